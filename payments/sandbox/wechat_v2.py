"""The sandbox's WeChat Pay v2: enterprise payment to change (``promotion/transfers`` and
``gettransferinfo``) here, payments and refunds in ``wechat_v2_pay``, bills in
``wechat_v2_bills``; signed XML both ways with the merchant API key, no client certificate.
This module also builds the notifies: none for transfers (they answer synchronously), the
signed pay result, and the refund result whose ``req_info`` is encrypted with the API key.

v2 has no "accepted, pending" transfer answer: a payout still processing is answered
``SYSTEMERROR``, which WeChat documents as "query with the same partner_trade_no". Change payments
cannot bounce, so a returned payout is reported by the query as FAILED with reason ``RETURNED``:
the money is back with the merchant.
"""

import string
from datetime import datetime
from decimal import Decimal
from secrets import choice, token_hex
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.channels.wechat_v2.signing import (
    SignType,
    XmlRefused,
    params_verify,
    req_info_encrypt,
    xml_decode,
    xml_encode,
    xml_signed,
)
from payments.sandbox import engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayment, SandboxPayout, SandboxRefund, Scenario

PAID = (SandboxPayout.State.SUCCESS, SandboxPayout.State.RETURNED)
CHINA = ZoneInfo("Asia/Shanghai")
NOTIFY_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
REFUND_NOTIFY_STATUS = {SandboxRefund.State.SUCCESS: "SUCCESS", SandboxRefund.State.FAILED: "REFUNDCLOSE"}
QUERY_STATUS = {
    SandboxPayout.State.SUCCESS: "SUCCESS",
    SandboxPayout.State.PROCESSING: "PROCESSING",
    SandboxPayout.State.FAILED: "FAILED",
    SandboxPayout.State.RETURNED: "FAILED",
}


def keys_generate() -> dict:
    alphabet = string.ascii_letters + string.digits
    return {
        "mch_id": "19" + "".join(choice(string.digits) for _ in range(8)),
        "appid": "wx" + token_hex(8),
        "api_key": "".join(choice(alphabet) for _ in range(32)),
        "sign_type": SignType.HMAC_SHA256.value,
    }


def notify_acknowledged(status: int, body: bytes) -> bool:
    """WeChat v2 stops only on HTTP 200 whose XML says ``return_code`` SUCCESS."""
    if status != 200:
        return False
    try:
        return xml_decode(body).get("return_code") == "SUCCESS"
    except XmlRefused:
        return False


def notify_build(payout: SandboxPayout, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """v2 transfers have no notify."""
    return None


def payment_notify_build(
    payment: SandboxPayment, secrets: dict, *, amount: Decimal, forged: bool
) -> tuple[dict[str, str], bytes]:
    """The pay result notify claiming ``amount``, signed with the API key, or with another key when ``forged``."""
    fields = {"return_code": "SUCCESS", "result_code": "SUCCESS", **payment_fields(payment, secrets, amount=amount)}
    sign_type = secrets["sign_type"]
    if sign_type != SignType.MD5:
        fields["sign_type"] = sign_type
    api_key = token_hex(16) if forged else secrets["api_key"]
    return dict(NOTIFY_HEADERS), xml_signed(fields, api_key=api_key, sign_type=sign_type)


def refund_notify_build(refund: SandboxRefund, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """The refund result notify: unsigned; the refund is in ``req_info``, encrypted with the API key."""
    status = REFUND_NOTIFY_STATUS.get(SandboxRefund.State(refund.state))
    if status is None:
        return None
    payment = refund.payment
    detail = {
        "transaction_id": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "refund_id": refund.refund_id,
        "out_refund_no": refund.refund_no,
        "total_fee": fen_text(payment.amount),
        "settlement_total_fee": fen_text(payment.amount),
        "refund_fee": fen_text(refund.amount),
        "settlement_refund_fee": fen_text(refund.amount),
        "refund_status": status,
        "success_time": wechat_time(refund.finished_at) if status == "SUCCESS" and refund.finished_at else "",
        "refund_recv_accout": "支付用户的零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_request_source": "API",
    }
    plaintext = xml_encode({key: value for key, value in detail.items() if value}, root="root")
    envelope = {
        "return_code": "SUCCESS",
        "appid": secrets["appid"],
        "mch_id": secrets["mch_id"],
        "nonce_str": token_hex(16),
        "req_info": req_info_encrypt(plaintext, api_key=secrets["api_key"]),
    }
    return dict(NOTIFY_HEADERS), xml_encode(envelope)


def payment_fields(payment: SandboxPayment, secrets: dict, *, amount: Decimal) -> dict[str, str]:
    """What WeChat tells about a payment, in an ``orderquery`` answer and in its pay notify."""
    fields = {
        "appid": secrets["appid"],
        "mch_id": secrets["mch_id"],
        "nonce_str": token_hex(16),
        "out_trade_no": payment.order_no,
        "trade_type": payment.method,
        "total_fee": fen_text(amount),
        "fee_type": "CNY",
    }
    if payment.state == SandboxPayment.State.PAID and payment.paid_at is not None:
        fields |= {
            "openid": payment.payer_masked,
            "is_subscribe": "N",
            "bank_type": "OTHERS",
            "cash_fee": fen_text(amount),
            "transaction_id": payment.transaction_id,
            "time_end": payment.paid_at.astimezone(CHINA).strftime("%Y%m%d%H%M%S"),
        }
    return fields


@csrf_exempt
@require_POST
def transfer_create(request: HttpRequest) -> HttpResponse:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=("mchid", "mch_appid"))
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    if not _transfer_params_valid(fields):
        return signed_answer(keys, sign_type, _result_fail(keys, "PARAM_ERROR", "参数错误"))
    amount = Decimal(fields["amount"]) / 100
    decision = engine.payout_receive(
        protocol=Protocol.WECHAT_V2,
        order_no=fields["partner_trade_no"],
        amount=amount,
        payee_masked=openid_mask(fields["openid"]),
    )
    if decision.scenario == Scenario.TIMEOUT:
        engine.pause(decision.delay)
        return HttpResponse("Gateway Timeout", status=504, content_type="text/plain")
    if decision.scenario == Scenario.SERVER_ERROR or decision.payout is None:
        return HttpResponse("<html><body>500 Internal Server Error</body></html>", status=500, content_type="text/html")
    if decision.scenario == Scenario.SLOW:
        engine.pause(decision.delay)
    payout = decision.payout
    if decision.replayed and payout.amount != amount:
        response = signed_answer(keys, sign_type, _result_fail(keys, "FATAL_ERROR", "两次请求参数不一致"))
    else:
        response = signed_answer(keys, sign_type, _transfer_answer(payout, keys))
    if decision.scenario == Scenario.DROP_RESPONSE:
        response.content = response.content[: len(response.content) // 2]
    return response


@csrf_exempt
@require_POST
def transfer_query(request: HttpRequest) -> HttpResponse:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=("mch_id", "appid"))
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    payout = engine.payout_find(protocol=Protocol.WECHAT_V2, order_no=fields.get("partner_trade_no", ""))
    if payout is None:
        answer = {
            "return_code": "SUCCESS",
            "result_code": "FAIL",
            "err_code": "NOT_FOUND",
            "err_code_des": "指定单号数据不存在",
        }
        return signed_answer(keys, sign_type, answer)
    answer = {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "partner_trade_no": payout.order_no,
        "appid": keys["appid"],
        "mch_id": keys["mch_id"],
        "detail_id": payout.channel_reference,
        "status": QUERY_STATUS[SandboxPayout.State(payout.state)],
        "reason": _query_reason(payout),
        "payment_amount": fen_text(payout.amount),
        "transfer_time": wechat_time(payout.created_at),
        "payment_time": wechat_time(payout.finished_at or payout.created_at) if payout.state in PAID else "",
    }
    return signed_answer(keys, sign_type, answer)


def request_read(
    request: HttpRequest, keys: dict, *, merchant: tuple[str, str]
) -> tuple[dict[str, str], HttpResponse | None]:
    """The request's fields, or the ``return_code`` FAIL answer WeChat gives a request it will
    not read: unparseable, wrongly signed, or for another merchant."""
    try:
        fields = xml_decode(request.body)
    except XmlRefused:
        return {}, signed_answer(keys, SignType.MD5, {"return_code": "FAIL", "return_msg": "XML格式错误"})
    sign_type = fields.get("sign_type") or SignType.MD5
    if sign_type not in set(SignType):
        return fields, signed_answer(keys, SignType.MD5, {"return_code": "FAIL", "return_msg": "签名类型错误"})
    if not params_verify(fields, api_key=keys["api_key"], sign_type=sign_type):
        return fields, signed_answer(keys, sign_type, {"return_code": "FAIL", "return_msg": "签名错误"})
    mch_id_field, appid_field = merchant
    if fields.get(mch_id_field) != keys["mch_id"] or fields.get(appid_field) != keys["appid"]:
        return fields, signed_answer(keys, sign_type, {"return_code": "FAIL", "return_msg": "商户号与appid不匹配"})
    return fields, None


def _transfer_params_valid(fields: dict[str, str]) -> bool:
    fen = fields.get("amount", "")
    name_check = fields.get("check_name")
    return (
        all(fields.get(name) for name in ("partner_trade_no", "openid", "desc"))
        and fen.isascii()
        and fen.isdigit()
        and int(fen) > 0
        and (name_check == "NO_CHECK" or (name_check == "FORCE_CHECK" and bool(fields.get("re_user_name"))))
    )


def _transfer_answer(payout: SandboxPayout, keys: dict) -> dict[str, str]:
    """The answer for the payout's current state: what the first request got, again on replay."""
    if payout.state == SandboxPayout.State.FAILED:
        return _result_fail(keys, payout.failure_code, f"付款失败: {payout.failure_code}")
    if payout.state == SandboxPayout.State.PROCESSING:
        return _result_fail(keys, "SYSTEMERROR", "系统繁忙，请使用原单号查询")
    return {
        "return_code": "SUCCESS",
        "mch_appid": keys["appid"],
        "mchid": keys["mch_id"],
        "nonce_str": token_hex(16),
        "result_code": "SUCCESS",
        "partner_trade_no": payout.order_no,
        "payment_no": payout.channel_reference,
        "payment_time": wechat_time(payout.finished_at or payout.created_at),
    }


def _result_fail(keys: dict, err_code: str, description: str) -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "mch_appid": keys["appid"],
        "mchid": keys["mch_id"],
        "nonce_str": token_hex(16),
        "result_code": "FAIL",
        "err_code": err_code,
        "err_code_des": description,
    }


def signed_answer(keys: dict, sign_type: str, fields: dict[str, str]) -> HttpResponse:
    """Every answer is signed, as the issue asks of the sandbox (real WeChat leaves some unsigned)."""
    body = xml_signed(fields, api_key=keys["api_key"], sign_type=sign_type)
    return HttpResponse(body, content_type="text/xml; charset=utf-8")


def _query_reason(payout: SandboxPayout) -> str:
    if payout.state == SandboxPayout.State.RETURNED:
        return "RETURNED"
    return payout.failure_code if payout.state == SandboxPayout.State.FAILED else ""


def openid_mask(openid: str) -> str:
    return f"{openid[:3]}***{openid[-3:]}"


def wechat_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def fen_text(amount: Decimal) -> str:
    return str(int(amount * 100))


urlpatterns = [
    path("mmpaymkttransfers/promotion/transfers", transfer_create, name="sandbox-wechat-v2-transfer"),
    path("mmpaymkttransfers/gettransferinfo", transfer_query, name="sandbox-wechat-v2-query"),
    # By name: the payment and bill views import this module's helpers.
    path("", include("payments.sandbox.wechat_v2_pay")),
    path("", include("payments.sandbox.wechat_v2_bills")),
]
