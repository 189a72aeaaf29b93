"""Alipay open platform (RSA2): payments, refunds, the daily trade and account bills, and payouts
by single transfer to an Alipay account (``transfers``).

Page and wap payments are signed URLs the payer's browser opens and app payments a signed
order string for the Alipay SDK: no call leaves for them. Query, close and refunds are signed
form POSTs to the gateway, and an answer counts only once Alipay's signature over the exact
text of its ``*_response`` object verifies: anything else after the request left is
``UnknownOutcome``, so a forged or damaged answer can never mark a payment paid or a refund
done. Amounts cross the wire as yuan strings ("12.34").
"""

import json
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode

from django.utils import timezone

from payments.channels.alipay import signing, transfers
from payments.channels.alipay.credentials import AlipayCredentials
from payments.channels.base import (
    ChannelError,
    NotifyRejected,
    NotifyReply,
    PaymentMethod,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    PayoutNotice,
    PayoutRequest,
    PayoutResult,
    RefundRequest,
    RefundState,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.bills import BillDownload, BillKind, BillNotReady
from payments.channels.http import ChannelHttp, HttpResponse
from wallet.json_input import json_parse
from wallet.money import format_amount, is_cents, parse_amount

# Method -> (API method, product code).
PRODUCTS = {
    PaymentMethod.ALIPAY_PAGE: ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    PaymentMethod.ALIPAY_WAP: ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
    PaymentMethod.ALIPAY_APP: ("alipay.trade.app.pay", "QUICK_MSECURITY_PAY"),
}
TRADE_QUERY = "alipay.trade.query"
TRADE_CLOSE = "alipay.trade.close"
TRADE_REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
BILL_URL_QUERY = "alipay.data.dataservice.bill.downloadurl.query"
# Which bill_type is which of our bills: transfers are in the account bill (账务明细).
BILL_TYPES = {BillKind.TRADE: "trade", BillKind.PAYOUT: "signcustomer"}
# 40004 with this sub_code: the day's bill is not published yet.
BILL_NOT_EXIST = "isp.bill_not_exist"
# Only TRADE_SUCCESS and TRADE_FINISHED (paid, no longer refundable) mean the money arrived.
TRADE_STATES = {
    "TRADE_SUCCESS": PaymentState.PAID,
    "TRADE_FINISHED": PaymentState.PAID,
    "WAIT_BUYER_PAY": PaymentState.NOT_PAID,
    "TRADE_CLOSED": PaymentState.CLOSED,
}
CODE_SUCCESS = "10000"
# "Service currently unavailable" and system errors: the call may have been carried out.
UNKNOWN_CODES = {"20000"}
UNKNOWN_SUB_CODES = {"ACQ.SYSTEM_ERROR", "isp.unknow-error"}
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
# The refund query names a missing trade without the ACQ. prefix.
REFUND_TRADE_NOT_EXIST = {TRADE_NOT_EXIST, "TRADE_NOT_EXIST"}
TRADE_STATUS_ERROR = "ACQ.TRADE_STATUS_ERROR"
# The refund number was used before with other parameters: that first refund may have been
# made, so only a refund query can tell.
DISCORDANT_REPEAT = "ACQ.DISCORDANT_REPEAT_REQUEST"
REFUND_SUCCESS = "REFUND_SUCCESS"
# How long after time_expire a signed pay URL is surely dead: covers our clock against Alipay's.
CLOCK_MARGIN = timedelta(seconds=60)
NOTIFY_TYPE = "trade_status_sync"
CHARSET = "utf-8"
FORM_TYPE = f"application/x-www-form-urlencoded;charset={CHARSET}"
SUBJECT_MAX_LENGTH = 256
REASON_MAX_LENGTH = 256
# Alipay refuses these in a subject.
SUBJECT_FORBIDDEN = str.maketrans("", "", "/=&")


class AlipayAdapter:
    """One app's open-platform client; keeps a pooled HTTP session to the gateway."""

    def __init__(self, credentials: AlipayCredentials, *, gateway: str, read_timeout: float) -> None:
        self.credentials = credentials
        self.app_id = credentials.app_id
        self.merchant_id = credentials.seller_id
        self.gateway = gateway
        self.http = ChannelHttp(base_url=gateway, read_timeout=read_timeout)

    def payment_create(self, request: PaymentRequest) -> PaymentStart:
        """The signed page / wap URL, or the app's order string; nothing is sent from here."""
        if request.method not in PRODUCTS:
            raise ValueError(f"Alipay does not serve the payment method {request.method}")
        method, product_code = PRODUCTS[PaymentMethod(request.method)]
        biz: dict[str, Any] = {
            "out_trade_no": request.order_no,
            "total_amount": _yuan_text(request.amount, request.currency),
            "subject": _subject(request.subject),
            "product_code": product_code,
            "time_expire": signing.time_format(request.expires_at),
        }
        browser = request.method != PaymentMethod.ALIPAY_APP
        if request.method == PaymentMethod.ALIPAY_WAP and request.return_url:
            biz["quit_url"] = request.return_url  # Where "back" leads from the mobile cashier.
        params = self._signed(
            method, biz, notify_url=request.notify_url, return_url=request.return_url if browser else ""
        )
        audit = _audit(params)
        if not browser:
            return PaymentStart(app_params={"order_string": urlencode(params)}, raw=audit)
        separator = "&" if "?" in self.gateway else "?"
        return PaymentStart(pay_url=f"{self.gateway}{separator}{urlencode(params)}", raw=audit)

    def payment_query(self, order_no: str) -> PaymentStatus:
        node = self._call(TRADE_QUERY, {"out_trade_no": order_no})
        if node.get("code") == CODE_SUCCESS:
            return self._trade_status(node, order_no)
        if node.get("sub_code") == TRADE_NOT_EXIST:
            return self._status(order_no, PaymentState.NOT_FOUND, node)
        _refused(node, f"trade query {order_no}")

    def payment_close(self, order_no: str, *, expires_at: datetime) -> PaymentStatus:
        """CLOSED when closed; a paid trade (ACQ.TRADE_STATUS_ERROR) is looked up, so the payer's
        being faster shows as PAID. Alipay creates the trade only when the payer opens the signed
        URL, which stays payable until time_expire: a trade it does not have yet (ACQ.TRADE_NOT_EXIST)
        is CLOSED only once ``expires_at`` (plus a clock margin) has passed, else RetryableError."""
        node = self._call(TRADE_CLOSE, {"out_trade_no": order_no})
        if node.get("code") == CODE_SUCCESS:
            if node.get("out_trade_no", order_no) != order_no:
                raise UnknownOutcome(f"trade close {order_no} answered for another trade")
            return self._status(order_no, PaymentState.CLOSED, node, transaction_id=str(node.get("trade_no") or ""))
        if node.get("sub_code") == TRADE_NOT_EXIST:
            payable_until = expires_at + CLOCK_MARGIN
            if timezone.now() >= payable_until:
                return self._status(order_no, PaymentState.CLOSED, node)
            raise RetryableError(
                f"trade close {order_no}: trade not opened yet; it can be paid until {payable_until.isoformat()}",
                code=TRADE_NOT_EXIST,
            )
        if node.get("sub_code") == TRADE_STATUS_ERROR:
            status = self.payment_query(order_no)
            if status.state in (PaymentState.PAID, PaymentState.CLOSED):
                return status
            raise UnknownOutcome(
                f"trade close {order_no} refused, yet the trade is {status.state}", code=TRADE_STATUS_ERROR
            )
        _refused(node, f"trade close {order_no}")

    def refund_create(self, request: RefundRequest) -> RefundStatus:
        """SUCCESS when money moved (fund_change Y); a repeated refund number moves none, so
        the refund query decides; a business refusal is FAILED with Alipay's sub_code, but the
        refusal of a number reused with other parameters is unknown (a query decides)."""
        biz = {
            "out_trade_no": request.order_no,
            "refund_amount": _yuan_text(request.amount, request.currency),
            "out_request_no": request.refund_no,
        }
        if request.reason:
            biz["refund_reason"] = request.reason[:REASON_MAX_LENGTH]
        node = self._call(TRADE_REFUND, biz)
        if node.get("code") == CODE_SUCCESS:
            if node.get("out_trade_no") != request.order_no:
                raise UnknownOutcome(f"refund {request.refund_no} answered for another trade")
            if node.get("fund_change") == "Y":
                return RefundStatus(
                    refund_no=request.refund_no,
                    state=RefundState.SUCCESS,
                    amount=request.amount,
                    order_no=request.order_no,
                    raw=node,
                )
            status = self.refund_query(request.refund_no, order_no=request.order_no)
            if status.state == RefundState.NOT_FOUND:
                raise UnknownOutcome(f"refund {request.refund_no} accepted, yet the refund query finds none")
            return status
        code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
        if code in UNKNOWN_CODES or sub_code in UNKNOWN_SUB_CODES or sub_code == DISCORDANT_REPEAT:
            raise UnknownOutcome(f"refund {request.refund_no}: {code} {sub_code}", code=sub_code or code)
        return RefundStatus(
            refund_no=request.refund_no,
            state=RefundState.FAILED,
            amount=request.amount,
            order_no=request.order_no,
            code=sub_code or code,
            message=str(node.get("sub_msg") or node.get("msg") or ""),
            raw=node,
        )

    def refund_query(self, refund_no: str, *, order_no: str) -> RefundStatus:
        """REFUND_SUCCESS is done. No refund_status means, in Alipay's words, "not received or
        failed": NOT_FOUND, so the core sends the same out_request_no again, which Alipay takes
        idempotently. A status Alipay may add later counts as still processing."""
        biz = {"out_trade_no": order_no, "out_request_no": refund_no, "query_options": ["gmt_refund_pay"]}
        node = self._call(REFUND_QUERY, biz)
        if node.get("code") == CODE_SUCCESS:
            refund_status = str(node.get("refund_status") or "")
            if not refund_status:
                return RefundStatus(refund_no=refund_no, state=RefundState.NOT_FOUND, order_no=order_no, raw=node)
            if node.get("out_request_no", refund_no) != refund_no or node.get("out_trade_no", order_no) != order_no:
                raise UnknownOutcome(f"refund query {refund_no} answered for another refund")
            try:
                amount = _yuan(node.get("refund_amount"))
            except ValueError as exc:
                raise UnknownOutcome(f"refund query {refund_no}: refund_amount is not an amount") from exc
            done = refund_status == REFUND_SUCCESS
            return RefundStatus(
                refund_no=refund_no,
                state=RefundState.SUCCESS if done else RefundState.PROCESSING,
                amount=amount,
                order_no=order_no,
                code=refund_status,
                raw=node,
            )
        if node.get("sub_code") in REFUND_TRADE_NOT_EXIST:
            return RefundStatus(refund_no=refund_no, state=RefundState.NOT_FOUND, order_no=order_no, raw=node)
        _refused(node, f"refund query {refund_no}")

    def parse_notify(self, *, headers: Mapping[str, str], body: bytes) -> PaymentStatus | RefundStatus:
        """A ``trade_status_sync`` notify: the payment's state, or, when a refund caused it
        (``out_biz_no`` names the refund), that refund's success."""
        credentials = self.credentials
        try:
            params = _form_parse(body)
            if params.get("sign_type") != signing.SIGN_TYPE:
                raise NotifyRejected("notify not signed with RSA2")
            if not signing.signature_valid(
                credentials.alipay_public_key, signing.notify_content(params), params.get("sign", "")
            ):
                raise NotifyRejected("notify signature does not verify")
            if not signing.constant_time_equal(params.get("app_id", ""), credentials.app_id):
                raise NotifyRejected("notify for another app")
            if not signing.constant_time_equal(params.get("seller_id", ""), credentials.seller_id):
                raise NotifyRejected("notify for another seller")
            if params.get("notify_type") != NOTIFY_TYPE or params.get("charset", CHARSET).lower() != CHARSET:
                raise NotifyRejected(f"not a {NOTIFY_TYPE} notify in {CHARSET}")
            if params.get("out_biz_no"):
                return RefundStatus(
                    refund_no=params["out_biz_no"],
                    state=RefundState.SUCCESS,
                    order_no=params["out_trade_no"],
                    code=params["trade_status"],
                    raw=_unsigned(params),
                )
            state = TRADE_STATES.get(params["trade_status"])
            if state is None:
                raise NotifyRejected(f"unknown trade_status {params['trade_status'][:64]}")
            gmt_payment = params.get("gmt_payment")
            return PaymentStatus(
                order_no=params["out_trade_no"],
                state=state,
                amount=_yuan(params["total_amount"]),
                app_id=params["app_id"],
                merchant_id=params["seller_id"],
                transaction_id=params.get("trade_no", ""),
                paid_at=signing.time_parse(gmt_payment) if gmt_payment and state == PaymentState.PAID else None,
                code=params["trade_status"],
                raw=_unsigned(params),
            )
        except (ValueError, KeyError) as exc:
            raise NotifyRejected(f"notify not understood: {type(exc).__name__}") from exc

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """Alipay stops only on the body ``success``; anything else is sent again later."""
        if accepted:
            return NotifyReply(status=200, content_type="text/plain", body=b"success")
        return NotifyReply(status=500, content_type="text/plain", body=b"failure")

    def bill_download(self, bill_date: date, kind: BillKind, directory: Path) -> BillDownload:
        """The day's trade bill (``TRADE``) or account bill (``PAYOUT``: the transfers): the signed
        answer to ``bill.downloadurl.query`` gives a link to the zip, kept as it comes (its members
        are the bill)."""
        bill_type = BILL_TYPES[kind]
        what = f"{bill_type} bill of {bill_date}"
        node = self._call(BILL_URL_QUERY, {"bill_type": bill_type, "bill_date": bill_date.isoformat()})
        code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
        if code != CODE_SUCCESS:
            if sub_code == BILL_NOT_EXIST:
                raise BillNotReady(f"{what}: not published yet", code=sub_code)
            if code in UNKNOWN_CODES or sub_code in UNKNOWN_SUB_CODES:
                raise UnknownOutcome(f"{what}: {code} {sub_code}", code=sub_code or code)
            raise ChannelError(f"{what} refused: {code} {sub_code}", code=sub_code or code)
        url = node.get("bill_download_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise UnknownOutcome(f"{what}: the answer has no download URL")
        filename = bill_file_name(self.merchant_id, bill_date, kind)
        destination = directory / filename
        response = self.http.download("GET", url, headers={}, destination=destination)
        if response.status >= 500:
            raise UnknownOutcome(f"{what}: download answered HTTP {response.status}", code=f"HTTP_{response.status}")
        if not 200 <= response.status < 300:
            raise ChannelError(f"{what}: download refused, HTTP {response.status}", code=f"HTTP_{response.status}")
        if not zipfile.is_zipfile(destination):
            destination.unlink()
            raise ChannelError(f"{what}: the download is not a whole zip", code="BILL_DAMAGED")
        return BillDownload(path=destination, filename=filename)

    def payout(self, request: PayoutRequest) -> PayoutResult:
        """A single transfer to an Alipay login id with its real name (``transfers``)."""
        node = self._call(transfers.TRANSFER, transfers.transfer_biz(request))
        return transfers.transfer_result(node, order_no=request.order_no)

    def query_payout(self, order_no: str) -> PayoutResult:
        node = self._call(transfers.QUERY, transfers.query_biz(order_no))
        return transfers.query_result(node, order_no=order_no)

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        """Alipay reports transfers by its message service, not to a notify URL: the transfer's
        answer and the query decide."""
        raise NotifyRejected("Alipay transfers have no notify here")

    def _signed(
        self, method: str, biz: Mapping[str, Any], *, notify_url: str = "", return_url: str = ""
    ) -> dict[str, str]:
        """The common parameters, ``biz_content``, and the RSA2 signature over them."""
        params = {
            "app_id": self.credentials.app_id,
            "method": method,
            "format": "JSON",
            "charset": CHARSET,
            "sign_type": signing.SIGN_TYPE,
            "timestamp": signing.time_format(timezone.now()),
            "version": "1.0",
            "notify_url": notify_url,
            "return_url": return_url,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params = {key: value for key, value in params.items() if value}
        params["sign"] = signing.signature_create(self.credentials.private_key, signing.request_content(params))
        return params

    def _call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        body = urlencode(self._signed(method, biz)).encode()
        response = self.http.send(
            "POST", "", body=body, headers={"Content-Type": FORM_TYPE, "Accept": "application/json"}
        )
        return self._answer(response, method)

    def _answer(self, response: HttpResponse, method: str) -> dict[str, Any]:
        """The verified ``*_response`` object; UnknownOutcome for a 5xx or anything unverifiable."""
        if response.status != 200:
            raise UnknownOutcome(
                f"Alipay answered {method} with HTTP {response.status}", code=f"HTTP_{response.status}"
            )
        try:
            members = signing.answer_split(response.body.decode(CHARSET))
        except (UnicodeDecodeError, signing.AnswerUnreadable) as exc:
            raise UnknownOutcome(f"Alipay answer to {method} unreadable: {exc}") from exc
        text = members.get(method.replace(".", "_") + "_response") or members.get("error_response")
        signature = json_parse(members["sign"]) if "sign" in members else None
        if text is None or not isinstance(signature, str):
            raise UnknownOutcome(f"Alipay answer to {method} is unsigned or has no response")
        if not signing.signature_valid(self.credentials.alipay_public_key, text, signature):
            raise UnknownOutcome(f"Alipay answer to {method} not verified")
        node = json_parse(text)
        if not isinstance(node, dict):
            raise UnknownOutcome(f"Alipay answer to {method} is not an object")
        return node

    def _trade_status(self, node: Mapping[str, Any], order_no: str) -> PaymentStatus:
        state = TRADE_STATES.get(str(node.get("trade_status")))
        if node.get("out_trade_no") != order_no or state is None:
            raise UnknownOutcome(f"trade query {order_no} has no state of that trade")
        try:
            amount = _yuan(node.get("total_amount"))
            paid = node.get("send_pay_date") if state == PaymentState.PAID else None
            paid_at = signing.time_parse(paid) if isinstance(paid, str) else None
        except ValueError as exc:
            raise UnknownOutcome(f"trade query {order_no}: an amount or time does not parse") from exc
        return self._status(
            order_no,
            state,
            node,
            amount=amount,
            currency=str(node["trans_currency"]) if node.get("trans_currency") else None,
            transaction_id=str(node.get("trade_no") or ""),
            paid_at=paid_at,
            code=str(node["trade_status"]),
        )

    def _status(self, order_no: str, state: PaymentState, node: Mapping[str, Any], **fields: Any) -> PaymentStatus:
        """A status from a verified answer to our own signed request: our app and seller."""
        fields.setdefault("code", str(node.get("sub_code") or ""))
        return PaymentStatus(
            order_no=order_no, state=state, app_id=self.app_id, merchant_id=self.merchant_id, raw=node, **fields
        )


def bill_file_name(merchant_id: str, bill_date: date, kind: BillKind) -> str:
    """``<pid>_20261206.csv.zip``, the account bill's with ``_signcustomer`` before the suffix."""
    suffix = "" if kind == BillKind.TRADE else f"_{BILL_TYPES[kind]}"
    return f"{merchant_id}_{bill_date:%Y%m%d}{suffix}.csv.zip"


def _refused(node: Mapping[str, Any], what: str) -> NoReturn:
    """A query or close Alipay did not carry out: unknown on a system error, else not taken."""
    code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
    message = f"{what}: {code} {sub_code} {str(node.get('sub_msg') or node.get('msg') or '')[:128]}"
    if code in UNKNOWN_CODES or sub_code in UNKNOWN_SUB_CODES:
        raise UnknownOutcome(message, code=sub_code or code)
    raise RetryableError(message, code=sub_code or code)


def _form_parse(body: bytes) -> dict[str, str]:
    """The notify's fields, URL-decoded; a field given twice is refused, not guessed at."""
    pairs = parse_qsl(body.decode(CHARSET), keep_blank_values=True, strict_parsing=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise ValueError("a field given twice")
    return params


def _unsigned(params: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in params.items() if key != "sign"}


def _audit(params: Mapping[str, str]) -> dict[str, object]:
    """The request for the audit log: its parameters, ``biz_content`` decoded, no signature."""
    return {key: json_parse(value) if key == "biz_content" else value for key, value in _unsigned(params).items()}


def _yuan_text(amount: Decimal, currency: str) -> str:
    if currency != "CNY":
        raise ValueError(f"Alipay trades here are in CNY, not {currency}")
    if not is_cents(amount) or amount <= 0:
        raise ValueError("an amount is a positive amount with at most 2 decimal places")
    return format_amount(amount)


def _yuan(value: object) -> Decimal:
    """A wire amount ("12.34"); ValueError for anything else (numbers, exponents, signs)."""
    if not isinstance(value, str):
        raise ValueError("an amount is not a string")
    return parse_amount(value)


def _subject(subject: str) -> str:
    text = " ".join(subject.translate(SUBJECT_FORBIDDEN).split())[:SUBJECT_MAX_LENGTH]
    if not text:
        raise ValueError("an Alipay trade needs a subject")
    return text
