"""WeChat Pay API v2, the channel of legacy merchants: signed XML over HTTPS. Payouts are enterprise
payment to change (企业付款到零钱): ``partner_trade_no`` as the idempotency key, a synchronous answer
and a ``gettransferinfo`` query, no notify. Payments (JSAPI, APP, H5, Native) and refunds are in
``payments``, the day's bills in ``bills``: this class sends them and reads their notifies.

The real API demands the merchant's client TLS certificate on transfers and refunds:
``adapter_from_environment`` puts it on the HTTP session. The sandbox does not ask for one.

A signed answer must verify. Every answer of the payment and refund endpoints must be signed:
WeChat signs them, so an unsigned one is not WeChat's and is ``UnknownOutcome``. Only the
enterprise-payment transfer answers come unsigned from WeChat: there the mutually authenticated
TLS connection (https, our client certificate) vouches for them, and ``adapter_from_environment``
trusts unsigned transfer answers on such a connection only. Elsewhere (the sandbox signs every
answer) a transfer answer claiming the request was processed (``return_code`` SUCCESS) must be
signed; only the bare ``return_code`` FAIL, sent when WeChat refused to read the request, is
taken without one.
"""

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from payments.channels.base import (
    ChannelError,
    Notice,
    NotifyRejected,
    NotifyReply,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    PayoutNotice,
    PayoutRequest,
    PayoutResult,
    PayoutState,
    RefundRequest,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.bills import BillDownload, BillKind, BillNotReady
from payments.channels.http import ChannelHttp
from payments.channels.wechat_trade import fen
from payments.channels.wechat_v2 import bills, payments
from payments.channels.wechat_v2.payments import nonce, return_fail_code
from payments.channels.wechat_v2.signing import SignType, XmlRefused, params_verify, xml_decode, xml_encode, xml_signed

TRANSFER_PATH = "/mmpaymkttransfers/promotion/transfers"
QUERY_PATH = "/mmpaymkttransfers/gettransferinfo"
DEFAULT_DESC = "提现"
DESC_MAX_LENGTH = 100
# WeChat documents these as "the payment may or may not have happened: query with the same
# partner_trade_no" (FATAL_ERROR: that number was already used with other parameters).
UNKNOWN_CODES = frozenset({"SYSTEMERROR", "SEND_FAILED", "FATAL_ERROR"})
# Refused before anything was taken: the same request may be sent again later.
RETRYABLE_CODES = frozenset({"FREQ_LIMIT"})
QUERY_STATES = {"SUCCESS": PayoutState.SUCCESS, "FAILED": PayoutState.FAILED, "PROCESSING": PayoutState.PROCESSING}
# The endpoints WeChat answers unsigned; every other answer must carry a valid sign.
UNSIGNED_ANSWER_PATHS = frozenset({TRANSFER_PATH, QUERY_PATH})


class WechatV2Adapter:
    """Payments, refunds and payouts to a WeChat user's change through one legacy (v2) merchant account."""

    def __init__(
        self,
        *,
        mch_id: str,
        appid: str,
        api_key: str,
        sign_type: str,
        http: ChannelHttp,
        unsigned_answers_trusted: bool = False,
    ) -> None:
        self.mch_id = mch_id
        self.appid = appid
        # The names the payment interface reads (PaymentAdapter).
        self.merchant_id = mch_id
        self.app_id = appid
        self.api_key = api_key
        self.sign_type = SignType(sign_type)
        self.http = http
        self.unsigned_answers_trusted = unsigned_answers_trusted

    def payout(self, request: PayoutRequest) -> PayoutResult:
        params: dict[str, str | int] = {
            "mch_appid": self.appid,
            "mchid": self.mch_id,
            "nonce_str": nonce(),
            "partner_trade_no": request.order_no,
            "openid": request.payee,
            "check_name": "FORCE_CHECK" if request.payee_name else "NO_CHECK",
            "amount": fen(request.amount, request.currency),
            "desc": (request.remark or DEFAULT_DESC)[:DESC_MAX_LENGTH],
        }
        if request.payee_name:
            params["re_user_name"] = request.payee_name
        answer = self._call(TRANSFER_PATH, params)
        return _transfer_result(answer, order_no=request.order_no)

    def query_payout(self, order_no: str) -> PayoutResult:
        params: dict[str, str | int] = {
            "nonce_str": nonce(),
            "partner_trade_no": order_no,
            "mch_id": self.mch_id,
            "appid": self.appid,
        }
        answer = self._call(QUERY_PATH, params)
        return _query_result(answer, order_no=order_no)

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        raise NotifyRejected("WeChat v2 transfers have no notify")

    def payment_create(self, request: PaymentRequest) -> PaymentStart:
        answer = self._call(
            payments.UNIFIEDORDER_PATH, payments.unifiedorder_params(request, appid=self.appid, mch_id=self.mch_id)
        )
        return payments.payment_start(
            answer,
            request=request,
            appid=self.appid,
            mch_id=self.mch_id,
            api_key=self.api_key,
            sign_type=self.sign_type.value,
        )

    def payment_query(self, order_no: str) -> PaymentStatus:
        answer = self._call(payments.ORDERQUERY_PATH, self._order_params(order_no))
        return payments.order_status(answer, order_no=order_no)

    def payment_close(self, order_no: str, *, expires_at: datetime) -> PaymentStatus:
        """A payment WeChat says is paid (ORDERPAID) is queried, so the core gets its amount and id.
        ``expires_at`` is not needed: WeChat's close takes effect at once, before the expiry."""
        closed = payments.close_status(
            self._call(payments.CLOSEORDER_PATH, self._order_params(order_no)), order_no=order_no
        )
        if closed is not None:
            return closed
        paid = self.payment_query(order_no)
        if paid.state != PaymentState.PAID:
            raise UnknownOutcome(f"closeorder {order_no}: ORDERPAID, but the query says {paid.state}", code="ORDERPAID")
        return paid

    def refund_create(self, request: RefundRequest) -> RefundStatus:
        answer = self._call(payments.REFUND_PATH, payments.refund_params(request, appid=self.appid, mch_id=self.mch_id))
        return payments.refund_status(answer, request=request)

    def refund_query(self, refund_no: str, *, order_no: str) -> RefundStatus:
        params: dict[str, str | int] = {
            "appid": self.appid,
            "mch_id": self.mch_id,
            "nonce_str": nonce(),
            "out_refund_no": refund_no,
        }
        answer = self._call(payments.REFUNDQUERY_PATH, params)
        return payments.refund_query_status(answer, refund_no=refund_no, order_no=order_no)

    def bill_download(self, bill_date: date, kind: BillKind, directory: Path) -> BillDownload:
        """The day's trade bill (``downloadbill``, signed in the merchant's sign type) or fund
        flow (``downloadfundflow``: HMAC-SHA256 and the client certificate, like refunds). The
        answer is the CSV itself, unsigned as WeChat sends it (the TLS connection vouches for
        it), or an error document: 20002 is a bill not published yet, anything else a refusal."""
        params: dict[str, str | int] = {
            "appid": self.appid,
            "mch_id": self.mch_id,
            "nonce_str": nonce(),
            "bill_date": f"{bill_date:%Y%m%d}",
        }
        if kind == BillKind.TRADE:
            params["bill_type"], sign_type = "ALL", self.sign_type
        else:
            params["account_type"], sign_type = "Basic", SignType.HMAC_SHA256
        params["sign_type"] = sign_type.value
        path, filename = bills.BILL_PATHS[kind], bills.bill_filename(bill_date, kind)
        destination = directory / filename
        response = self.http.download(
            "POST",
            path,
            body=xml_signed(params, api_key=self.api_key, sign_type=sign_type),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            destination=destination,
        )
        if response.status != 200:
            raise UnknownOutcome(f"POST {path}: HTTP {response.status}")
        try:
            error = bills.bill_error(destination)
        except XmlRefused as exc:
            destination.unlink()
            raise UnknownOutcome(f"POST {path}: unreadable answer") from exc
        if error is None:
            return BillDownload(path=destination, filename=filename)
        destination.unlink()
        code, message = error.get("error_code", ""), error.get("return_msg", "")
        if code == bills.NOT_READY_CODE:
            raise BillNotReady(f"{kind} bill of {bill_date}: not published yet ({message})", code=code)
        raise ChannelError(f"{kind} bill of {bill_date} refused: {message}", code=code or return_fail_code(message))

    def parse_notify(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        """A pay result, or a refund result (the one carrying an encrypted ``req_info``)."""
        try:
            fields = xml_decode(body)
        except XmlRefused as exc:
            raise NotifyRejected("the notify is not a flat XML document") from exc
        if "req_info" in fields:
            return payments.refund_notify_read(fields, appid=self.appid, mch_id=self.mch_id, api_key=self.api_key)
        return payments.payment_notify_read(
            fields, appid=self.appid, mch_id=self.mch_id, api_key=self.api_key, sign_type=self.sign_type
        )

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """The v2 acknowledgement: anything but SUCCESS makes WeChat notify again later."""
        fields = (
            {"return_code": "SUCCESS", "return_msg": "OK"}
            if accepted
            else {"return_code": "FAIL", "return_msg": "FAIL"}
        )
        return NotifyReply(status=200, content_type="text/xml", body=xml_encode(fields))

    def _call(self, path: str, params: dict[str, str | int]) -> dict[str, str]:
        """Sign and send; return the answer only once it is readable and its signature holds."""
        if self.sign_type == SignType.HMAC_SHA256:
            params["sign_type"] = self.sign_type.value
        body = xml_signed(params, api_key=self.api_key, sign_type=self.sign_type)
        response = self.http.send("POST", path, body=body, headers={"Content-Type": "text/xml; charset=utf-8"})
        if response.status != 200:
            raise UnknownOutcome(f"POST {path}: HTTP {response.status}")
        try:
            answer = xml_decode(response.body)
        except XmlRefused as exc:
            raise UnknownOutcome(f"POST {path}: unreadable answer") from exc
        if "sign" in answer or path not in UNSIGNED_ANSWER_PATHS:
            if not params_verify(answer, api_key=self.api_key, sign_type=self.sign_type):
                raise UnknownOutcome(f"POST {path}: the answer is unsigned or its signature does not verify")
        elif answer.get("return_code") != "FAIL" and not self.unsigned_answers_trusted:
            raise UnknownOutcome(f"POST {path}: unsigned answer")
        return answer

    def _order_params(self, order_no: str) -> dict[str, str | int]:
        return {"appid": self.appid, "mch_id": self.mch_id, "nonce_str": nonce(), "out_trade_no": order_no}


def _transfer_result(answer: Mapping[str, str], *, order_no: str) -> PayoutResult:
    return_code = answer.get("return_code")
    if return_code == "FAIL":
        message = answer.get("return_msg", "")
        return PayoutResult(state=PayoutState.FAILED, code=return_fail_code(message), message=message)
    if return_code != "SUCCESS":
        raise UnknownOutcome(f"transfer {order_no}: return_code {return_code!r}")
    result_code = answer.get("result_code")
    if result_code == "SUCCESS":
        if answer.get("partner_trade_no") != order_no or not answer.get("payment_no"):
            raise UnknownOutcome(f"transfer {order_no}: a success answer for another order or without payment_no")
        return PayoutResult(state=PayoutState.SUCCESS, channel_reference=answer["payment_no"])
    err_code = answer.get("err_code", "")
    message = answer.get("err_code_des", "")
    if result_code != "FAIL" or not err_code or err_code in UNKNOWN_CODES:
        raise UnknownOutcome(f"transfer {order_no}: {err_code or result_code} {message}".strip(), code=err_code)
    if err_code in RETRYABLE_CODES:
        raise RetryableError(f"transfer {order_no}: {err_code} {message}".strip(), code=err_code)
    return PayoutResult(state=PayoutState.FAILED, code=err_code, message=message)


def _query_result(answer: Mapping[str, str], *, order_no: str) -> PayoutResult:
    """A query that did not run says nothing about the payout: unknown, never failed."""
    if answer.get("return_code") != "SUCCESS":
        raise UnknownOutcome(f"query {order_no}: {answer.get('return_msg', '')}".strip())
    if answer.get("result_code") != "SUCCESS":
        err_code = answer.get("err_code", "")
        if err_code == "NOT_FOUND":
            return PayoutResult(state=PayoutState.NOT_FOUND, code=err_code)
        if err_code in RETRYABLE_CODES:
            raise RetryableError(f"query {order_no}: {err_code}", code=err_code)
        raise UnknownOutcome(f"query {order_no}: {err_code} {answer.get('err_code_des', '')}".strip(), code=err_code)
    state = QUERY_STATES.get(answer.get("status", ""))
    if state is None or answer.get("partner_trade_no") != order_no:
        raise UnknownOutcome(
            f"query {order_no}: status {answer.get('status')!r} for {answer.get('partner_trade_no')!r}"
        )
    if state == PayoutState.FAILED:
        return PayoutResult(state=state, code="TRANSFER_FAILED", message=answer.get("reason", ""))
    return PayoutResult(state=state, channel_reference=answer.get("detail_id", ""))
