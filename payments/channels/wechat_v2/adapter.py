"""WeChat Pay API v2 enterprise payment to change (企业付款到零钱), the payout channel of legacy
merchants: signed XML over HTTPS, ``partner_trade_no`` as the idempotency key, a synchronous
answer and a ``gettransferinfo`` query; there is no notify.

The real API also demands the merchant's client TLS certificate on both calls:
``adapter_from_environment`` puts it on the HTTP session. The sandbox does not ask for one.

A signed answer must verify. WeChat's own transfer answers come unsigned: there the mutually
authenticated TLS connection (https, our client certificate) vouches for them, and
``adapter_from_environment`` trusts unsigned answers on such a connection only. Everywhere else
(the sandbox signs every answer) an answer that claims the request was processed
(``return_code`` SUCCESS) must be signed; only the bare ``return_code`` FAIL, which WeChat sends
when it refused to read the request, is taken without one.
"""

import secrets
from collections.abc import Mapping
from decimal import Decimal

from payments.channels.base import (
    NotifyRejected,
    NotifyReply,
    PayoutNotice,
    PayoutRequest,
    PayoutResult,
    PayoutState,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.http import ChannelHttp
from payments.channels.wechat_v2.signing import SignType, XmlRefused, params_sign, params_verify, xml_decode, xml_encode

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


class WechatV2Adapter:
    """Payouts to a WeChat user's change balance through one legacy (v2) merchant account."""

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
        self.api_key = api_key
        self.sign_type = SignType(sign_type)
        self.http = http
        self.unsigned_answers_trusted = unsigned_answers_trusted

    def payout(self, request: PayoutRequest) -> PayoutResult:
        params: dict[str, str | int] = {
            "mch_appid": self.appid,
            "mchid": self.mch_id,
            "nonce_str": secrets.token_hex(16),
            "partner_trade_no": request.order_no,
            "openid": request.payee,
            "check_name": "FORCE_CHECK" if request.payee_name else "NO_CHECK",
            "amount": _fen(request.amount, request.currency),
            "desc": (request.remark or DEFAULT_DESC)[:DESC_MAX_LENGTH],
        }
        if request.payee_name:
            params["re_user_name"] = request.payee_name
        answer = self._call(TRANSFER_PATH, params)
        return _transfer_result(answer, order_no=request.order_no)

    def query_payout(self, order_no: str) -> PayoutResult:
        params: dict[str, str | int] = {
            "nonce_str": secrets.token_hex(16),
            "partner_trade_no": order_no,
            "mch_id": self.mch_id,
            "appid": self.appid,
        }
        answer = self._call(QUERY_PATH, params)
        return _query_result(answer, order_no=order_no)

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        raise NotifyRejected("WeChat v2 transfers have no notify")

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """The v2 notify acknowledgement, for completeness: transfers never notify."""
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
        params["sign"] = params_sign(params, api_key=self.api_key, sign_type=self.sign_type)
        response = self.http.send(
            "POST", path, body=xml_encode(params), headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        if response.status != 200:
            raise UnknownOutcome(f"POST {path}: HTTP {response.status}")
        try:
            answer = xml_decode(response.body)
        except XmlRefused as exc:
            raise UnknownOutcome(f"POST {path}: unreadable answer") from exc
        if "sign" in answer:
            if not params_verify(answer, api_key=self.api_key, sign_type=self.sign_type):
                raise UnknownOutcome(f"POST {path}: the answer's signature does not verify")
        elif answer.get("return_code") != "FAIL" and not self.unsigned_answers_trusted:
            raise UnknownOutcome(f"POST {path}: unsigned answer")
        return answer


def _fen(amount: Decimal, currency: str) -> int:
    if currency != "CNY":
        raise ValueError(f"WeChat pays CNY only, not {currency}")
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("payout amount must be positive with at most 2 decimal places")
    return int((amount * 100).to_integral_value())


def _transfer_result(answer: Mapping[str, str], *, order_no: str) -> PayoutResult:
    return_code = answer.get("return_code")
    if return_code == "FAIL":
        message = answer.get("return_msg", "")
        signature_problem = "签名" in message or "sign" in message.lower()
        return PayoutResult(
            state=PayoutState.FAILED, code="SIGN_ERROR" if signature_problem else "PARAM_ERROR", message=message
        )
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
