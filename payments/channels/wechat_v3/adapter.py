"""WeChat Pay v3 merchant transfer (商家转账, ``transfer-bills``): the payout half of the channel.

An answer counts only once its platform signature verifies: anything else after the request
left is ``UnknownOutcome``, so a forged or damaged answer can never mark a payout paid or
failed. Amounts cross the wire in fen.
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

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
from payments.channels.http import ChannelHttp, HttpResponse
from payments.channels.wechat_v3 import signing
from payments.channels.wechat_v3.credentials import SCENE_REPORT_INFOS, WechatV3Credentials
from wallet.money import CENT, is_cents

BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
NOTIFY_EVENT = "MCHTRANSFER.BILL.FINISHED"
# WeChat limits transfer_remark to 32 characters.
REMARK_MAX_LENGTH = 32
DEFAULT_REMARK = "钱包提现"
BILL_STATES = {"SUCCESS": PayoutState.SUCCESS, "FAIL": PayoutState.FAILED, "CANCELLED": PayoutState.FAILED}
# Error codes that mean "not taken, ask again later" and "we do not know what happened".
RETRYABLE_CODES = {"FREQUENCY_LIMITED"}
UNKNOWN_CODES = {"SYSTEM_ERROR"}


class WechatV3Adapter:
    """One merchant's transfer-bills client; keeps a pooled HTTP session."""

    def __init__(self, credentials: WechatV3Credentials, *, base_url: str, read_timeout: float) -> None:
        self.credentials = credentials
        self.http = ChannelHttp(base_url=base_url, read_timeout=read_timeout)
        # The signature covers the path actually requested, prefix of the base URL included.
        self.path_prefix = urlsplit(base_url).path.rstrip("/")

    def payout(self, request: PayoutRequest) -> PayoutResult:
        response = self._send("POST", BILLS_PATH, self._bill_body(request))
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _bill_result(data, order_no=request.order_no)
        code, message = str(data.get("code") or f"HTTP_{response.status}"), str(data.get("message") or "")
        if code in RETRYABLE_CODES:
            raise RetryableError(f"transfer bill {request.order_no} not taken: {message}", code=code)
        if code in UNKNOWN_CODES or not 400 <= response.status < 500:
            raise UnknownOutcome(f"transfer bill {request.order_no}: HTTP {response.status}", code=code)
        return PayoutResult(state=PayoutState.FAILED, code=code, message=message)

    def query_payout(self, order_no: str) -> PayoutResult:
        response = self._send("GET", f"{BILLS_PATH}/out-bill-no/{quote(order_no, safe='')}", b"")
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _bill_result(data, order_no=order_no)
        code = str(data.get("code") or f"HTTP_{response.status}")
        if response.status == 404 and code == "NOT_FOUND":
            return PayoutResult(state=PayoutState.NOT_FOUND, code=code, message=str(data.get("message") or ""))
        if code in RETRYABLE_CODES:
            raise RetryableError(f"transfer bill query {order_no} not taken", code=code)
        raise UnknownOutcome(f"transfer bill query {order_no}: HTTP {response.status}", code=code)

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        credentials = self.credentials
        try:
            signing.wechatpay_headers_verify(
                headers=headers,
                body=body,
                public_key=credentials.platform_public_key,
                serial=credentials.platform_serial,
            )
            envelope = json.loads(body)
            if envelope.get("event_type") != NOTIFY_EVENT:
                raise NotifyRejected(f"not a transfer bill notify: {str(envelope.get('event_type'))[:64]}")
            bill = json.loads(signing.resource_decrypt(key=credentials.api_v3_key, resource=envelope["resource"]))
            if not signing.constant_time_equal(str(bill.get("mch_id", "")), credentials.mchid):
                raise NotifyRejected("transfer bill notify for another merchant")
            state = BILL_STATES.get(bill["state"], PayoutState.PROCESSING)
            return PayoutNotice(
                order_no=str(bill["out_bill_no"]),
                state=state,
                amount=_yuan(bill["transfer_amount"]),
                channel_reference=str(bill.get("transfer_bill_no") or ""),
                code=str(bill.get("fail_reason") or bill["state"]) if state == PayoutState.FAILED else "",
            )
        except signing.SignatureInvalid as exc:
            raise NotifyRejected(f"transfer bill notify not genuine: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotifyRejected(f"transfer bill notify not understood: {type(exc).__name__}") from exc

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """WeChat wants 200/204 and no body when done; any other status (with a code) is retried."""
        if accepted:
            return NotifyReply(status=200, content_type="text/plain", body=b"")
        body = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()
        return NotifyReply(status=500, content_type="application/json", body=body)

    def _bill_body(self, request: PayoutRequest) -> bytes:
        credentials = self.credentials
        bill: dict[str, Any] = {
            "appid": credentials.appid,
            "out_bill_no": request.order_no,
            "transfer_scene_id": credentials.transfer_scene_id,
            "openid": request.payee,
            "transfer_amount": _fen(request.amount, request.currency),
            "transfer_remark": (request.remark or DEFAULT_REMARK)[:REMARK_MAX_LENGTH],
            "transfer_scene_report_infos": [
                {"info_type": info_type, "info_content": content}
                for info_type, content in SCENE_REPORT_INFOS[credentials.transfer_scene_id]
            ],
        }
        if request.notify_url:
            bill["notify_url"] = request.notify_url
        if request.payee_name:
            bill["user_name"] = signing.sensitive_encrypt(credentials.platform_public_key, request.payee_name)
        return json.dumps(bill, ensure_ascii=False, separators=(",", ":")).encode()

    def _send(self, method: str, path: str, body: bytes) -> HttpResponse:
        credentials = self.credentials
        authorization = signing.authorization_create(
            mchid=credentials.mchid,
            serial=credentials.merchant_serial,
            private_key=credentials.private_key,
            method=method,
            path=f"{self.path_prefix}{path}",
            body=body,
        )
        headers = {
            "Authorization": authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": credentials.platform_serial,
        }
        response = self.http.send(method, path, body=body, headers=headers)
        if response.status == 429:
            # Over WeChat's rate: nothing was taken, whoever signed the answer.
            raise RetryableError(f"{method} {path}: FREQUENCY_LIMITED", code="FREQUENCY_LIMITED")
        return response

    def _answer(self, response: HttpResponse) -> dict[str, Any]:
        """The verified JSON object of an answer; UnknownOutcome for a 5xx or anything unverifiable."""
        if response.status >= 500:
            raise UnknownOutcome(f"WeChat answered HTTP {response.status}", code=f"HTTP_{response.status}")
        try:
            signing.wechatpay_headers_verify(
                headers=response.headers,
                body=response.body,
                public_key=self.credentials.platform_public_key,
                serial=self.credentials.platform_serial,
            )
        except signing.SignatureInvalid as exc:
            raise UnknownOutcome(f"WeChat answer (HTTP {response.status}) not verified: {exc}") from exc
        try:
            data = json.loads(response.body)
        except ValueError as exc:
            raise UnknownOutcome(f"WeChat answer (HTTP {response.status}) is not JSON") from exc
        if not isinstance(data, dict):
            raise UnknownOutcome(f"WeChat answer (HTTP {response.status}) is not a JSON object")
        return data


def _bill_result(data: Mapping[str, Any], *, order_no: str) -> PayoutResult:
    """A bill's state: SUCCESS paid, FAIL/CANCELLED not paid, anything else (ACCEPTED,
    PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, CANCELING, states added later) still moving."""
    state = data.get("state")
    if data.get("out_bill_no") != order_no or not isinstance(state, str):
        raise UnknownOutcome(f"transfer bill answer for {order_no} has no state of that bill")
    result = BILL_STATES.get(state, PayoutState.PROCESSING)
    return PayoutResult(
        state=result,
        channel_reference=str(data.get("transfer_bill_no") or ""),
        code=str(data.get("fail_reason") or state) if result == PayoutState.FAILED else "",
    )


def _fen(amount: Decimal, currency: str) -> int:
    if currency != "CNY":
        raise ValueError(f"WeChat transfers are in CNY, not {currency}")
    if not is_cents(amount) or amount <= 0:
        raise ValueError("a transfer amount is a positive amount with at most 2 decimal places")
    return int((amount * 100).to_integral_value())


def _yuan(fen: object) -> Decimal:
    if not isinstance(fen, int) or isinstance(fen, bool) or fen <= 0:
        raise ValueError("transfer_amount is not a positive number of fen")
    return (Decimal(fen) / 100).quantize(CENT)
