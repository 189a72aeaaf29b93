"""WeChat Pay API v2 payments and refunds (JSAPI, APP, H5 and Native pay): what each request
carries, and what each answer or notify means in ``base``'s terms. ``WechatV2Adapter`` sends.

Answers: ``return_code`` FAIL means WeChat did not read the request; ``result_code`` FAIL carries
an ``err_code``. SYSTEMERROR is documented as "unknown: query". An order or refund number used
before with other parameters (INVALID_REQUEST, OUT_TRADE_NO_USED, REFUND_FEE_MISMATCH) means an
earlier request under that number may be paid or refunded, so it is unknown too, never a failure.

Notifies: the pay result is signed like an answer, in the merchant's configured sign type. The
refund result is unsigned; its ``req_info`` is AES-256-ECB under the API key, which proves the
sender knows the key but carries no integrity, so the core still compares it with its own refund.
"""

import json
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from secrets import token_hex
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from payments.channels.base import (
    ChannelError,
    NotifyRejected,
    PaymentMethod,
    PaymentRefused,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundState,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.wechat_trade import TRADE_STATES, fen
from payments.channels.wechat_v2.signing import (
    DecryptionFailed,
    SignType,
    XmlRefused,
    params_sign,
    params_verify,
    req_info_decrypt,
    xml_decode,
)

UNIFIEDORDER_PATH = "/pay/unifiedorder"
ORDERQUERY_PATH = "/pay/orderquery"
CLOSEORDER_PATH = "/pay/closeorder"
REFUND_PATH = "/secapi/pay/refund"  # needs the merchant's client certificate, like transfers
REFUNDQUERY_PATH = "/pay/refundquery"
CHINA = ZoneInfo("Asia/Shanghai")  # every WeChat time is China time
TRADE_TYPES = {
    PaymentMethod.WECHAT_JSAPI: "JSAPI",
    PaymentMethod.WECHAT_APP: "APP",
    PaymentMethod.WECHAT_H5: "MWEB",
    PaymentMethod.WECHAT_NATIVE: "NATIVE",
}
REFUND_STATES = {
    "SUCCESS": RefundState.SUCCESS,
    "PROCESSING": RefundState.PROCESSING,
    # The payer's account is abnormal: the merchant completes the refund by hand, then it succeeds.
    "CHANGE": RefundState.PROCESSING,
    "REFUNDCLOSE": RefundState.FAILED,
}
# Refund states whose code is worth carrying: the failure and the refund waiting for the merchant.
REFUND_STATES_WITH_CODE = frozenset({"CHANGE", "REFUNDCLOSE"})
UNKNOWN_CODES = frozenset({"SYSTEMERROR", "ORDERPAID", "INVALID_REQUEST", "OUT_TRADE_NO_USED", "REFUND_FEE_MISMATCH"})
RETRYABLE_CODES = frozenset({"FREQ_LIMIT", "FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH", "BIZERR_NEED_RETRY"})
BODY_MAX_BYTES = 128
REFUND_DESC_MAX_BYTES = 80
# spbill_create_ip is required; for Native pay it is our server's address, which WeChat does not check.
SERVER_IP = "127.0.0.1"


def nonce() -> str:
    return token_hex(16)


def return_fail_code(message: str) -> str:
    """A ``return_code`` FAIL has only a message: tell a signature problem from a parameter one."""
    return "SIGN_ERROR" if "签名" in message or "sign" in message.lower() else "PARAM_ERROR"


def unifiedorder_params(request: PaymentRequest, *, appid: str, mch_id: str) -> dict[str, str | int]:
    trade_type = TRADE_TYPES.get(request.method)
    if trade_type is None:
        raise ValueError(f"WeChat v2 does not serve {request.method}")
    if trade_type == "JSAPI" and not request.payer_id:
        raise ValueError("JSAPI pay needs the payer's openid")
    if trade_type == "MWEB" and not request.client_ip:
        raise ValueError("H5 pay needs the payer's IP: WeChat compares it with the browser's")
    if request.expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    params: dict[str, str | int] = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce(),
        "body": _bytes_cut(request.subject, BODY_MAX_BYTES),
        "out_trade_no": request.order_no,
        "total_fee": fen(request.amount, request.currency),
        "fee_type": "CNY",
        "spbill_create_ip": request.client_ip or SERVER_IP,
        "time_expire": request.expires_at.astimezone(CHINA).strftime("%Y%m%d%H%M%S"),
        "notify_url": request.notify_url,
        "trade_type": trade_type,
    }
    if trade_type == "JSAPI":
        params["openid"] = request.payer_id
    elif trade_type == "NATIVE":
        params["product_id"] = request.order_no
    elif trade_type == "MWEB":
        site = urlsplit(request.return_url or request.notify_url)
        h5_info = {"type": "Wap", "wap_url": f"{site.scheme}://{site.netloc}", "wap_name": site.hostname or ""}
        params["scene_info"] = json.dumps({"h5_info": h5_info}, ensure_ascii=False, separators=(",", ":"))
    return params


def payment_start(
    answer: Mapping[str, str], *, request: PaymentRequest, appid: str, mch_id: str, api_key: str, sign_type: str
) -> PaymentStart:
    """The prepay answer, plus the signed parameters the WeChat SDK needs for JSAPI and APP pay."""
    what = f"unifiedorder {request.order_no}"
    refusal = _business_refusal(answer, what)
    if refusal is not None:
        code, message = refusal
        raise PaymentRefused(f"{what}: {code} {message}".strip(), code=code)
    trade_type = TRADE_TYPES[request.method]
    prepay_id = answer.get("prepay_id", "")
    if not prepay_id or answer.get("trade_type") != trade_type:
        raise UnknownOutcome(f"{what}: a success answer without prepay_id or for another trade type")
    raw = _raw(answer)
    if trade_type == "NATIVE":
        if not answer.get("code_url"):
            raise UnknownOutcome(f"{what}: a Native answer without code_url")
        return PaymentStart(code_url=answer["code_url"], prepay_id=prepay_id, raw=raw)
    if trade_type == "MWEB":
        if not answer.get("mweb_url"):
            raise UnknownOutcome(f"{what}: an H5 answer without mweb_url")
        return PaymentStart(
            pay_url=_with_redirect(answer["mweb_url"], request.return_url), prepay_id=prepay_id, raw=raw
        )
    client: dict[str, str]
    if trade_type == "JSAPI":
        client = {
            "appId": appid,
            "timeStamp": str(int(time.time())),
            "nonceStr": nonce(),
            "package": f"prepay_id={prepay_id}",
            "signType": sign_type,
        }
        client["paySign"] = params_sign(client, api_key=api_key, sign_type=sign_type)
    else:
        client = {
            "appid": appid,
            "partnerid": mch_id,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce(),
            "timestamp": str(int(time.time())),
        }
        client["sign"] = params_sign(client, api_key=api_key, sign_type=sign_type)
    return PaymentStart(app_params=client, prepay_id=prepay_id, raw=raw)


def order_status(answer: Mapping[str, str], *, order_no: str) -> PaymentStatus:
    """The ``orderquery`` answer; one about another order, or an unknown state, says nothing."""
    what = f"orderquery {order_no}"
    err_code = _query_err_code(answer, what)
    if err_code == "ORDERNOTEXIST":
        return _closed_or_missing(answer, order_no=order_no, state=PaymentState.NOT_FOUND, code=err_code)
    if err_code:
        raise _unanswered(what, answer)
    trade_state = answer.get("trade_state", "")
    state = TRADE_STATES.get(trade_state)
    if state is None or answer.get("out_trade_no") != order_no:
        raise UnknownOutcome(f"{what}: trade_state {trade_state!r} for {answer.get('out_trade_no')!r}")
    status = _payment_status(answer, order_no=order_no, state=state)
    if state == PaymentState.PAID and (status.amount is None or not status.transaction_id):
        raise UnknownOutcome(f"{what}: paid, but without total_fee or transaction_id")
    return status


def close_status(answer: Mapping[str, str], *, order_no: str) -> PaymentStatus | None:
    """CLOSED when closed, already closed or never there; None when WeChat says it was paid (ORDERPAID):
    the caller queries for the payment's details."""
    what = f"closeorder {order_no}"
    err_code = _query_err_code(answer, what)
    if err_code == "ORDERPAID":
        return None
    if err_code not in ("", "ORDERNOTEXIST", "ORDERCLOSED"):
        raise _unanswered(what, answer)
    return _closed_or_missing(answer, order_no=order_no, state=PaymentState.CLOSED, code=err_code)


def refund_params(request: RefundRequest, *, appid: str, mch_id: str) -> dict[str, str | int]:
    return {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce(),
        "transaction_id": request.transaction_id,
        "out_trade_no": request.order_no,
        "out_refund_no": request.refund_no,
        "total_fee": fen(request.total_amount, request.currency),
        "refund_fee": fen(request.amount, request.currency),
        "refund_fee_type": "CNY",
        "refund_desc": _bytes_cut(request.reason, REFUND_DESC_MAX_BYTES),
        "notify_url": request.notify_url,
    }


def refund_status(answer: Mapping[str, str], *, request: RefundRequest) -> RefundStatus:
    """WeChat's SUCCESS only means "refund accepted": PROCESSING until a query or notify says more."""
    what = f"refund {request.refund_no}"
    refusal = _business_refusal(answer, what)
    if refusal is not None:
        code, message = refusal
        return RefundStatus(
            refund_no=request.refund_no,
            state=RefundState.FAILED,
            amount=request.amount,
            order_no=request.order_no,
            code=code,
            message=message,
            raw=_raw(answer),
        )
    amount = _yuan(answer.get("refund_fee"))
    if answer.get("out_refund_no") != request.refund_no or not answer.get("refund_id") or amount != request.amount:
        raise UnknownOutcome(f"{what}: a success answer for another refund, amount, or without refund_id")
    return RefundStatus(
        refund_no=request.refund_no,
        state=RefundState.PROCESSING,
        amount=amount,
        order_no=answer.get("out_trade_no", ""),
        refund_id=answer["refund_id"],
        raw=_raw(answer),
    )


def refund_query_status(answer: Mapping[str, str], *, refund_no: str, order_no: str) -> RefundStatus:
    """The ``refundquery`` answer: the refunds of a query are numbered fields (``refund_status_0``…)."""
    what = f"refundquery {refund_no}"
    err_code = _query_err_code(answer, what)
    if err_code == "REFUNDNOTEXIST":
        return RefundStatus(
            refund_no=refund_no, state=RefundState.NOT_FOUND, order_no=order_no, code=err_code, raw=_raw(answer)
        )
    if err_code:
        raise _unanswered(what, answer)
    index = next(
        (
            key.removeprefix("out_refund_no_")
            for key, value in answer.items()
            if key.startswith("out_refund_no_") and value == refund_no
        ),
        None,
    )
    if index is None or answer.get("out_trade_no") != order_no:
        raise UnknownOutcome(f"{what}: the answer is not about this refund of {order_no}")
    refund_state = answer.get(f"refund_status_{index}", "")
    state = REFUND_STATES.get(refund_state)
    if state is None:
        raise UnknownOutcome(f"{what}: refund_status {refund_state!r}")
    return RefundStatus(
        refund_no=refund_no,
        state=state,
        amount=_yuan(answer.get(f"refund_fee_{index}")),
        order_no=order_no,
        refund_id=answer.get(f"refund_id_{index}", ""),
        code=refund_state if refund_state in REFUND_STATES_WITH_CODE else "",
        raw=_raw(answer),
    )


def payment_notify_read(
    fields: Mapping[str, str], *, appid: str, mch_id: str, api_key: str, sign_type: SignType
) -> PaymentStatus:
    """The pay result notify: signed with the API key in the merchant's configured sign type,
    whatever its ``sign_type`` (which WeChat may leave out) claims, so a sender cannot pick a weaker
    one; about this merchant and app only."""
    if fields.get("return_code") != "SUCCESS":
        raise NotifyRejected("a pay notify without return_code SUCCESS carries no result")
    if fields.get("sign_type", sign_type) != sign_type:
        raise NotifyRejected(f"a pay notify declaring another sign type than {sign_type}")
    if not params_verify(fields, api_key=api_key, sign_type=sign_type):
        raise NotifyRejected("the pay notify's signature does not verify")
    if fields.get("appid") != appid or fields.get("mch_id") != mch_id:
        raise NotifyRejected("a pay notify for another merchant or app")
    order_no = fields.get("out_trade_no", "")
    result_code = fields.get("result_code")
    if result_code == "SUCCESS":
        status = _payment_status(fields, order_no=order_no, state=PaymentState.PAID)
    elif result_code == "FAIL":
        status = _payment_status(fields, order_no=order_no, state=PaymentState.NOT_PAID)
    else:
        raise NotifyRejected(f"pay notify with result_code {result_code!r}")
    if not order_no or status.amount is None or (status.state == PaymentState.PAID and not status.transaction_id):
        raise NotifyRejected("a pay notify without out_trade_no, total_fee or transaction_id")
    return status


def refund_notify_read(fields: Mapping[str, str], *, appid: str, mch_id: str, api_key: str) -> RefundStatus:
    """The refund result notify: its ``req_info`` decrypts under our key to a refund state WeChat
    notifies (SUCCESS, REFUNDCLOSE, or CHANGE: waiting for the merchant to refund by hand)."""
    if fields.get("return_code") != "SUCCESS":
        raise NotifyRejected("a refund notify without return_code SUCCESS carries no result")
    if fields.get("appid") != appid or fields.get("mch_id") != mch_id:
        raise NotifyRejected("a refund notify for another merchant or app")
    try:
        detail = xml_decode(req_info_decrypt(fields["req_info"], api_key=api_key), root="root")
    except (DecryptionFailed, XmlRefused) as exc:
        raise NotifyRejected("the refund notify's req_info does not decrypt to a refund") from exc
    refund_state = detail.get("refund_status", "")
    state = REFUND_STATES.get(refund_state)
    amount = _yuan(detail.get("refund_fee"))
    if state is None or refund_state == "PROCESSING" or not detail.get("out_refund_no") or amount is None:
        raise NotifyRejected(f"a refund notify without a notified state, refund number or amount ({refund_state!r})")
    return RefundStatus(
        refund_no=detail["out_refund_no"],
        state=state,
        amount=amount,
        order_no=detail.get("out_trade_no", ""),
        refund_id=detail.get("refund_id", ""),
        code=refund_state if refund_state in REFUND_STATES_WITH_CODE else "",
        raw={key: value for key, value in fields.items() if key != "req_info"} | detail,
    )


def _business_refusal(answer: Mapping[str, str], what: str) -> tuple[str, str] | None:
    """None when the request succeeded; (code, message) when WeChat definitely refused it; raises
    for an answer that leaves the outcome open or asks to send the same request again."""
    return_code = answer.get("return_code")
    if return_code == "FAIL":
        message = answer.get("return_msg", "")
        return return_fail_code(message), message
    if return_code != "SUCCESS":
        raise UnknownOutcome(f"{what}: return_code {return_code!r}")
    result_code = answer.get("result_code")
    if result_code == "SUCCESS":
        return None
    err_code, message = answer.get("err_code", ""), answer.get("err_code_des", "")
    if result_code != "FAIL" or not err_code or err_code in UNKNOWN_CODES:
        raise UnknownOutcome(f"{what}: {err_code or result_code} {message}".strip(), code=err_code)
    if err_code in RETRYABLE_CODES:
        raise RetryableError(f"{what}: {err_code} {message}".strip(), code=err_code)
    return err_code, message


def _query_err_code(answer: Mapping[str, str], what: str) -> str:
    """ "" for a query that ran and answered, else its ``err_code``; a query that did not run raises."""
    if answer.get("return_code") != "SUCCESS":
        raise UnknownOutcome(f"{what}: {answer.get('return_msg', '')}".strip())
    result_code = answer.get("result_code")
    if result_code == "SUCCESS":
        return ""
    if result_code != "FAIL" or not answer.get("err_code"):
        raise UnknownOutcome(f"{what}: result_code {result_code!r}")
    return answer["err_code"]


def _unanswered(what: str, answer: Mapping[str, str]) -> ChannelError:
    """What a query that ran but could not answer raises: asked to come back later, or unknown."""
    err_code = answer.get("err_code", "")
    message = f"{what}: {err_code} {answer.get('err_code_des', '')}".strip()
    if err_code in RETRYABLE_CODES:
        return RetryableError(message, code=err_code)
    return UnknownOutcome(message, code=err_code)


def _payment_status(fields: Mapping[str, str], *, order_no: str, state: PaymentState) -> PaymentStatus:
    paid = state == PaymentState.PAID
    return PaymentStatus(
        order_no=order_no,
        state=state,
        amount=_yuan(fields.get("total_fee")),
        currency=fields.get("fee_type") or None,  # WeChat leaves fee_type out for CNY
        app_id=fields.get("appid", ""),
        merchant_id=fields.get("mch_id", ""),
        transaction_id=fields.get("transaction_id", ""),
        paid_at=_china_time(fields.get("time_end", "")) if paid else None,
        code=fields.get("trade_state", "") or fields.get("err_code", ""),
        message=fields.get("trade_state_desc", "") or fields.get("err_code_des", ""),
        raw=_raw(fields),
    )


def _closed_or_missing(answer: Mapping[str, str], *, order_no: str, state: PaymentState, code: str) -> PaymentStatus:
    return PaymentStatus(
        order_no=order_no,
        state=state,
        app_id=answer.get("appid", ""),
        merchant_id=answer.get("mch_id", ""),
        code=code,
        message=answer.get("err_code_des", ""),
        raw=_raw(answer),
    )


def _yuan(fen_text: str | None) -> Decimal | None:
    """Fen as WeChat writes them, in yuan; None when absent or not a whole number of fen."""
    if not fen_text or not fen_text.isascii() or not fen_text.isdigit():
        return None
    return Decimal(fen_text).scaleb(-2)


def _china_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    except ValueError:
        return None


def _raw(fields: Mapping[str, str]) -> dict[str, object]:
    """The answer for the audit log, without its signature."""
    return {key: value for key, value in fields.items() if key != "sign"}


def _bytes_cut(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes (WeChat counts bytes), never splitting a character."""
    return text.encode()[:limit].decode(errors="ignore")


def _with_redirect(mweb_url: str, return_url: str) -> str:
    """WeChat sends the H5 payer's browser to ``redirect_url`` afterwards, when the link carries one."""
    if not return_url:
        return mweb_url
    separator = "&" if urlsplit(mweb_url).query else "?"
    return f"{mweb_url}{separator}{urlencode({'redirect_url': return_url})}"
