"""WeChat Pay API v3 for current merchants: payouts by merchant transfer (``transfer-bills``),
payments (JSAPI, APP, H5, Native) and refunds (``payments.py``), every notify of the channel, and
the day's bills (``bills.py``).

An answer counts only once its platform signature verifies: anything else after the request
left is ``UnknownOutcome``, so a forged or damaged answer can never mark a payout, payment or
refund paid or failed. Amounts cross the wire in fen.
"""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from payments.channels.base import (
    ChannelError,
    Notice,
    NotifyRejected,
    NotifyReply,
    PaymentRefused,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    PayoutNotice,
    PayoutRequest,
    PayoutResult,
    PayoutState,
    RefundRequest,
    RefundState,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.bills import BillDownload, BillKind, BillNotReady
from payments.channels.http import ChannelHttp, HttpResponse
from payments.channels.wechat_trade import fen
from payments.channels.wechat_v3 import bills, payments, signing
from payments.channels.wechat_v3.credentials import SCENE_REPORT_INFOS, WechatV3Credentials
from wallet.json_input import json_parse

BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
NOTIFY_EVENT = "MCHTRANSFER.BILL.FINISHED"
# WeChat limits transfer_remark to 32 characters.
REMARK_MAX_LENGTH = 32
DEFAULT_REMARK = "钱包提现"
BILL_STATES = {"SUCCESS": PayoutState.SUCCESS, "FAIL": PayoutState.FAILED, "CANCELLED": PayoutState.FAILED}
# Error codes that mean "not taken, ask again later" and "we do not know what happened".
RETRYABLE_CODES = {"FREQUENCY_LIMITED"}
UNKNOWN_CODES = {"SYSTEM_ERROR"}
# A prepay or close of an order the payer already paid: the order is paid, never refused or closed.
ORDER_PAID = "ORDERPAID"
# The payer is entering the password: the order cannot be closed yet.
USER_PAYING = "USER_PAYING"
# WeChat's generic business refusal of a refund; it is also the answer to a refund number sent
# again with other parameters, whose first request may have been refunded: a query decides.
REFUND_INVALID_REQUEST = "INVALID_REQUEST"


class WechatV3Adapter:
    """One merchant's client (payouts, payments, refunds, notifies); keeps a pooled HTTP session."""

    def __init__(self, credentials: WechatV3Credentials, *, base_url: str, read_timeout: float) -> None:
        self.credentials = credentials
        self.merchant_id = credentials.mchid
        self.app_id = credentials.appid
        self.http = ChannelHttp(base_url=base_url, read_timeout=read_timeout)
        # The signature covers the path actually requested, prefix of the base URL included.
        self.path_prefix = urlsplit(base_url).path.rstrip("/")

    def payout(self, request: PayoutRequest) -> PayoutResult:
        response = self._send("POST", BILLS_PATH, self._bill_body(request))
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _bill_result(data, order_no=request.order_no)
        code, message = _refusal(response, data, what=f"transfer bill {request.order_no}")
        return PayoutResult(state=PayoutState.FAILED, code=code, message=message)

    def query_payout(self, order_no: str) -> PayoutResult:
        response = self._send("GET", f"{BILLS_PATH}/out-bill-no/{quote(order_no, safe='')}", b"")
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _bill_result(data, order_no=order_no)
        code = _code(response, data)
        if response.status == 404 and code == "NOT_FOUND":
            return PayoutResult(state=PayoutState.NOT_FOUND, code=code, message=str(data.get("message") or ""))
        if code in RETRYABLE_CODES:
            raise RetryableError(f"transfer bill query {order_no} not taken", code=code)
        raise UnknownOutcome(f"transfer bill query {order_no}: HTTP {response.status}", code=code)

    def payment_create(self, request: PaymentRequest) -> PaymentStart:
        path = payments.prepay_path(request.method)
        response = self._send("POST", path, payments.prepay_body(self.credentials, request))
        data = self._answer(response)
        what = f"prepay {request.order_no}"
        if 200 <= response.status < 300:
            with _unreadable(what):
                return payments.payment_start(self.credentials, request, data)
        code, message = _refusal(response, data, what=what)
        if code == ORDER_PAID:
            raise UnknownOutcome(f"{what}: WeChat says the order is paid already; query it", code=code)
        raise PaymentRefused(f"{what} refused: {message}", code=code)

    def payment_query(self, order_no: str) -> PaymentStatus:
        path = f"{_transaction_path(order_no)}?mchid={quote(self.merchant_id, safe='')}"
        response = self._send("GET", path, b"")
        data = self._answer(response)
        if 200 <= response.status < 300:
            with _unreadable(f"payment query {order_no}"):
                status = payments.payment_status(data)
            if status.order_no != order_no:
                raise UnknownOutcome(f"payment query {order_no} answered about another order")
            return status
        code = _code(response, data)
        if response.status == 404 and code == "ORDER_NOT_EXIST":
            return self._answerless(order_no, PaymentState.NOT_FOUND, code=code, data=data)
        if code in RETRYABLE_CODES:
            raise RetryableError(f"payment query {order_no} not taken", code=code)
        raise UnknownOutcome(f"payment query {order_no}: HTTP {response.status}", code=code)

    def payment_close(self, order_no: str, *, expires_at: datetime) -> PaymentStatus:
        """Close, then believe the query: WeChat answers 204 even for an order it never had, and
        the payer may pay just before the close. CLOSED also for an order WeChat never had (it
        can never be paid); PAID, with the query's details, when the payer was faster.
        ``expires_at`` is not needed: WeChat's close takes effect at once, before the expiry."""
        body = json.dumps({"mchid": self.merchant_id}, separators=(",", ":")).encode()
        response = self._send("POST", f"{_transaction_path(order_no)}/close", body)
        if response.status == 204:
            self._verify(response)
            return self._close_confirm(order_no, answered="204")
        data = self._answer(response)
        code = _code(response, data)
        if code in (ORDER_PAID, "ORDER_CLOSED"):
            return self._close_confirm(order_no, answered=code)
        if response.status == 404 and code == "ORDER_NOT_EXIST":
            return self._answerless(order_no, PaymentState.CLOSED, code=code, data=data)
        if code == USER_PAYING:
            raise RetryableError(f"close {order_no}: the payer is paying; not closed", code=code)
        code, message = _refusal(response, data, what=f"close {order_no}")
        raise RetryableError(f"close {order_no} refused, not closed: {message}", code=code)

    def refund_create(self, request: RefundRequest) -> RefundStatus:
        response = self._send("POST", payments.REFUNDS_PATH, payments.refund_body(request))
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _refund_read(data, refund_no=request.refund_no, order_no=request.order_no)
        code, message = _refusal(response, data, what=f"refund {request.refund_no}")
        if code == REFUND_INVALID_REQUEST:
            raise UnknownOutcome(f"refund {request.refund_no} refused ({message}); query it", code=code)
        return RefundStatus(
            refund_no=request.refund_no,
            state=RefundState.FAILED,
            amount=request.amount,
            order_no=request.order_no,
            code=code,
            message=message,
            raw=data,
        )

    def refund_query(self, refund_no: str, *, order_no: str) -> RefundStatus:
        response = self._send("GET", f"{payments.REFUNDS_PATH}/{quote(refund_no, safe='')}", b"")
        data = self._answer(response)
        if 200 <= response.status < 300:
            return _refund_read(data, refund_no=refund_no, order_no=order_no)
        code = _code(response, data)
        if response.status == 404 and code == "RESOURCE_NOT_EXISTS":
            message = str(data.get("message") or "")
            return RefundStatus(
                refund_no=refund_no, state=RefundState.NOT_FOUND, order_no=order_no, code=code, message=message
            )
        if code in RETRYABLE_CODES:
            raise RetryableError(f"refund query {refund_no} not taken", code=code)
        raise UnknownOutcome(f"refund query {refund_no}: HTTP {response.status}", code=code)

    def bill_download(self, bill_date: date, kind: BillKind, directory: Path) -> BillDownload:
        """The day's trade bill or fund flow (docs/RECONCILIATION.md, "Bill formats"): WeChat's
        platform-signed answer names the bill's SHA1 and a download URL; the gzip fetched from it
        is gunzipped and kept only when its SHA1 is the one named."""
        what = f"{kind} bill of {bill_date}"
        response = self._send("GET", bills.bill_path(bill_date, kind), b"")
        data = self._answer(response)
        if not 200 <= response.status < 300:
            code = _code(response, data)
            if code in bills.NOT_READY_CODES:
                raise BillNotReady(f"{what}: not published yet", code=code)
            code, message = _refusal(response, data, what=what)
            raise ChannelError(f"{what} refused: {message}", code=code)
        hash_value, url = data.get("hash_value"), data.get("download_url")
        if data.get("hash_type") != bills.HASH_TYPE or not isinstance(hash_value, str) or not isinstance(url, str):
            raise UnknownOutcome(f"{what}: the answer names no SHA1 and download URL")
        if not url.startswith(("https://", "http://")):
            raise UnknownOutcome(f"{what}: the download URL is not an http(s) URL")
        filename = bills.bill_filename(bill_date, kind)
        compressed, destination = directory / f"{filename}.gz", directory / filename
        self._bill_fetch(url, compressed)
        try:
            digest = bills.bill_gunzip(compressed, destination)
        finally:
            compressed.unlink(missing_ok=True)
        if not signing.constant_time_equal(digest, hash_value.lower()):
            destination.unlink()
            raise ChannelError(f"{what}: its SHA1 is not the one WeChat signed", code="BILL_HASH_MISMATCH")
        return BillDownload(path=destination, filename=filename)

    def parse_notify(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        """Any notify: the envelope is platform-signed, the resource decrypts under the API v3
        key and names our merchant (and app, where it carries one); dispatched on event_type."""
        try:
            event, resource = self._notify_open(headers=headers, body=body)
            if event == NOTIFY_EVENT:
                return self._payout_notice(resource)
            if event == payments.PAYMENT_EVENT:
                self._ours(resource, mchid="mchid", appid="appid")
                return payments.payment_status(resource)
            if event in payments.REFUND_EVENTS:
                self._ours(resource, mchid="mchid")
                return payments.refund_status(resource, status_field="refund_status")
        except signing.SignatureInvalid as exc:
            raise NotifyRejected(f"notify not genuine: {exc}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotifyRejected(f"notify not understood: {type(exc).__name__}") from exc
        raise NotifyRejected(f"notify of an event we do not take: {event[:64]}")

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        notice = self.parse_notify(headers=headers, body=body)
        if not isinstance(notice, PayoutNotice):
            raise NotifyRejected("not a transfer bill notify")
        return notice

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """WeChat wants 200/204 and no body when done; any other status (with a code) is retried."""
        if accepted:
            return NotifyReply(status=200, content_type="text/plain", body=b"")
        body = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()
        return NotifyReply(status=500, content_type="application/json", body=body)

    def _close_confirm(self, order_no: str, *, answered: str) -> PaymentStatus:
        status = self.payment_query(order_no)
        if status.state in (PaymentState.PAID, PaymentState.CLOSED):
            return status
        if status.state == PaymentState.NOT_FOUND:
            return self._answerless(order_no, PaymentState.CLOSED, code=status.code, data=status.raw)
        raise UnknownOutcome(f"close {order_no}: WeChat answered {answered}, yet the order is open", code=status.code)

    def _answerless(self, order_no: str, state: PaymentState, *, code: str, data: Mapping[str, Any]) -> PaymentStatus:
        """A state WeChat gave without the transaction (an order it never had): it is about our
        merchant's and app's order, and says no amount."""
        return PaymentStatus(
            order_no=order_no,
            state=state,
            app_id=self.app_id,
            merchant_id=self.merchant_id,
            code=code,
            message=str(data.get("message") or ""),
            raw=data,
        )

    def _notify_open(self, *, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, Any]]:
        """The event type and the decrypted resource of a genuine notify."""
        credentials = self.credentials
        signing.wechatpay_headers_verify(
            headers=headers, body=body, public_key=credentials.platform_public_key, serial=credentials.platform_serial
        )
        envelope = json_parse(body)
        resource = json_parse(signing.resource_decrypt(key=credentials.api_v3_key, resource=envelope["resource"]))
        if not isinstance(resource, dict):
            raise TypeError("the resource is not a JSON object")
        return str(envelope["event_type"]), resource

    def _ours(self, resource: Mapping[str, Any], *, mchid: str, appid: str = "") -> None:
        """Reject a resource naming another merchant (or app): another merchant's genuine
        notify must not settle one of our orders."""
        if not signing.constant_time_equal(str(resource.get(mchid, "")), self.merchant_id):
            raise NotifyRejected("notify for another merchant")
        if appid and not signing.constant_time_equal(str(resource.get(appid, "")), self.app_id):
            raise NotifyRejected("notify for another app")

    def _payout_notice(self, bill: Mapping[str, Any]) -> PayoutNotice:
        self._ours(bill, mchid="mch_id")
        state = BILL_STATES.get(bill["state"], PayoutState.PROCESSING)
        return PayoutNotice(
            order_no=str(bill["out_bill_no"]),
            state=state,
            amount=payments.yuan(bill["transfer_amount"]),
            channel_reference=str(bill.get("transfer_bill_no") or ""),
            code=str(bill.get("fail_reason") or bill["state"]) if state == PayoutState.FAILED else "",
        )

    def _bill_body(self, request: PayoutRequest) -> bytes:
        credentials = self.credentials
        bill: dict[str, Any] = {
            "appid": credentials.appid,
            "out_bill_no": request.order_no,
            "transfer_scene_id": credentials.transfer_scene_id,
            "openid": request.payee,
            "transfer_amount": fen(request.amount, request.currency),
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
        headers = {
            "Authorization": self._authorization(method, f"{self.path_prefix}{path}", body),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Wechatpay-Serial": self.credentials.platform_serial,
        }
        response = self.http.send(method, path, body=body, headers=headers)
        if response.status == 429:
            # Over WeChat's rate: nothing was taken, whoever signed the answer.
            raise RetryableError(f"{method} {path}: FREQUENCY_LIMITED", code="FREQUENCY_LIMITED")
        return response

    def _authorization(self, method: str, signed_path: str, body: bytes) -> str:
        """The signature covers the path and query actually requested."""
        credentials = self.credentials
        return signing.authorization_create(
            mchid=credentials.mchid,
            serial=credentials.merchant_serial,
            private_key=credentials.private_key,
            method=method,
            path=signed_path,
            body=body,
        )

    def _bill_fetch(self, url: str, destination: Path) -> None:
        """GET a download URL WeChat gave, signed like every request; its answer is not signed
        (the SHA1 in the signed answer that named the URL vouches for the file)."""
        parts = urlsplit(url)
        signed_path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        headers = {"Authorization": self._authorization("GET", signed_path, b""), "Accept": "*/*"}
        response = self.http.download("GET", url, headers=headers, destination=destination)
        if response.status == 429:
            raise RetryableError("bill download: FREQUENCY_LIMITED", code="FREQUENCY_LIMITED")
        if response.status >= 500:
            raise UnknownOutcome(f"bill download: HTTP {response.status}", code=f"HTTP_{response.status}")
        if not 200 <= response.status < 300:
            raise ChannelError(f"bill download refused: HTTP {response.status}", code=f"HTTP_{response.status}")

    def _verify(self, response: HttpResponse) -> None:
        """UnknownOutcome for a 5xx or an answer the platform key did not sign."""
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

    def _answer(self, response: HttpResponse) -> dict[str, Any]:
        """The verified JSON object of an answer; UnknownOutcome for a 5xx or anything unverifiable."""
        self._verify(response)
        try:
            data = json_parse(response.body)
        except ValueError as exc:
            raise UnknownOutcome(f"WeChat answer (HTTP {response.status}) is not JSON") from exc
        if not isinstance(data, dict):
            raise UnknownOutcome(f"WeChat answer (HTTP {response.status}) is not a JSON object")
        return data


def _transaction_path(order_no: str) -> str:
    return f"{payments.TRANSACTION_PATH}/{quote(order_no, safe='')}"


def _code(response: HttpResponse, data: Mapping[str, Any]) -> str:
    return str(data.get("code") or f"HTTP_{response.status}")


def _refusal(response: HttpResponse, data: Mapping[str, Any], *, what: str) -> tuple[str, str]:
    """A definite refusal as (code, message); raises for the answers that are not one: over the
    rate (nothing taken, retry) or a system error or anything but a 4xx (may have been taken)."""
    code, message = _code(response, data), str(data.get("message") or "")
    if code in RETRYABLE_CODES:
        raise RetryableError(f"{what} not taken: {message}", code=code)
    if code in UNKNOWN_CODES or not 400 <= response.status < 500:
        raise UnknownOutcome(f"{what}: HTTP {response.status}", code=code)
    return code, message


@contextmanager
def _unreadable(what: str) -> Iterator[None]:
    """A verified 2xx that does not say what we asked: nothing can be concluded from it."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnknownOutcome(f"{what}: the answer is not understood ({type(exc).__name__})") from exc


def _refund_read(data: Mapping[str, Any], *, refund_no: str, order_no: str) -> RefundStatus:
    with _unreadable(f"refund {refund_no}"):
        status = payments.refund_status(data)
    if status.refund_no != refund_no or status.order_no != order_no:
        raise UnknownOutcome(f"refund {refund_no}: the answer is about another refund")
    return status


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
