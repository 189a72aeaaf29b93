"""Bank-card payouts through a bank gateway speaking signed JSON (UnionPay style), and the day's
payout bill.

Requests are signed with the merchant key; every answer and callback must carry the gateway's
signature, a fresh timestamp and our order number, or it is not an answer at all: after the
request left, that is ``UnknownOutcome``, never a failure. The card number goes on the wire
only, never into an exception message.
"""

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

from django.core.exceptions import ImproperlyConfigured

from payments.channels.bank import signing
from payments.channels.base import (
    ChannelError,
    NotifyRejected,
    NotifyReply,
    PayoutNotice,
    PayoutRequest,
    PayoutResult,
    PayoutState,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.bills import BillDownload, BillKind, BillNotReady
from payments.channels.http import ChannelHttp, HttpResponse
from wallet.json_input import json_parse

CENT = Decimal("0.01")
CODE_OK = "0000"
CODE_NOT_FOUND = "4004"
CODE_RATE_LIMITED = "2001"
# Gateway codes that refuse a payout outright: nothing was taken, the order is failed.
REFUSALS = {"1001": "SIGN_ERROR", "1002": "PARAMETER_ERROR", "1003": "ACCOUNT_INVALID"}
STATES = {
    "PROCESSING": PayoutState.PROCESSING,
    "SUCCESS": PayoutState.SUCCESS,
    "FAILED": PayoutState.FAILED,
    "RETURNED": PayoutState.RETURNED,
}
# A callback reports a final state only.
NOTIFY_STATES = {"SUCCESS", "FAILED", "RETURNED"}
ENVIRONMENT = ("BANK_MERCHANT_ID", "BANK_PRIVATE_KEY", "BANK_GATEWAY_PUBLIC_KEY", "BANK_BASE_URL")
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
BILLS_PATH = "/v1/bills"
CODE_BILL_NOT_READY = "3004"
# The signature of a bill, whose body is CSV, travels in headers (docs/RECONCILIATION.md).
BILL_TIMESTAMP_HEADER = "X-Timestamp"
BILL_NONCE_HEADER = "X-Nonce"
BILL_SIGN_HEADER = "X-Sign"
HASH_CHUNK_BYTES = 64 * 1024


class BankAdapter:
    """The payout half of the bank gateway (``base.PayoutAdapter``)."""

    def __init__(
        self,
        *,
        merchant_id: str,
        private_key_pem: str,
        gateway_public_key_pem: str,
        base_url: str,
        read_timeout: float,
    ) -> None:
        self.merchant_id = merchant_id
        self.private_key = signing.private_key_load(private_key_pem)
        self.gateway_public_key = signing.public_key_load(gateway_public_key_pem)
        self.http = ChannelHttp(base_url=base_url, read_timeout=read_timeout)

    def payout(self, request: PayoutRequest) -> PayoutResult:
        fields = {
            "merchant_id": self.merchant_id,
            **signing.stamp_new(),
            "order_no": request.order_no,
            "amount": _yuan(request.amount),
            "currency": request.currency,
            "card_number": request.payee,
            "holder_name": request.payee_name,
            "bank_code": request.bank_code,
            "notify_url": request.notify_url,
            "remark": request.remark,
        }
        body = _json_dump(signing.signed(fields, self.private_key))
        response = self.http.send("POST", "/v1/payouts", body=body, headers=JSON_HEADERS)
        answer = self._answer_read(response, order_no=request.order_no)
        code = answer.get("code")
        if code == CODE_OK:
            return _result(answer, order_no=request.order_no)
        if isinstance(code, str) and code in REFUSALS:
            return PayoutResult(state=PayoutState.FAILED, code=REFUSALS[code], message=_text(answer, "fail_message"))
        if code == CODE_RATE_LIMITED:
            raise RetryableError(f"payout {request.order_no}: the gateway is rate limiting", code=code)
        raise UnknownOutcome(f"payout {request.order_no}: gateway code {code!r}", code=_text(answer, "code"))

    def query_payout(self, order_no: str) -> PayoutResult:
        params = signing.signed({"merchant_id": self.merchant_id, **signing.stamp_new()}, self.private_key)
        path = f"/v1/payouts/{quote(order_no, safe='')}?{urlencode(params)}"
        response = self.http.send("GET", path, headers={"Accept": "application/json"})
        answer = self._answer_read(response, order_no=order_no)
        code = answer.get("code")
        if code == CODE_OK:
            return _result(answer, order_no=order_no)
        if code == CODE_NOT_FOUND:
            return PayoutResult(state=PayoutState.NOT_FOUND, code=CODE_NOT_FOUND, message=_text(answer, "fail_message"))
        if code == CODE_RATE_LIMITED:
            raise RetryableError(f"query {order_no}: the gateway is rate limiting", code=code)
        # A refused query says nothing about the payout: it is still unknown, never failed.
        raise UnknownOutcome(f"query {order_no}: gateway code {code!r}", code=_text(answer, "code"))

    def bill_download(self, bill_date: date, kind: BillKind, directory: Path) -> BillDownload:
        """The day's payout bill, a CSV the gateway signs in headers (docs/RECONCILIATION.md,
        "Bank payout gateway bill"), kept only once that signature holds; a signed code 3004 is
        a bill not published yet. The gateway only pays out: a trade bill is a ``ValueError``."""
        if kind != BillKind.PAYOUT:
            raise ValueError("The bank gateway has no trade bill: it only pays out")
        what = f"payout bill of {bill_date}"
        params = signing.signed({"merchant_id": self.merchant_id, **signing.stamp_new()}, self.private_key)
        filename = f"bank_payout_{bill_date:%Y%m%d}.csv"
        destination = directory / filename
        response = self.http.download(
            "GET",
            f"{BILLS_PATH}/{bill_date.isoformat()}?{urlencode(params)}",
            headers={"Accept": "text/csv, application/json"},
            destination=destination,
        )
        if response.status >= 500:
            raise UnknownOutcome(f"{what}: gateway answered HTTP {response.status}")
        if not 200 <= response.status < 300:
            self._bill_refusal(response, what=what)
        try:
            self._bill_verify(response, destination, what=what)
        except UnknownOutcome:
            destination.unlink()
            raise
        return BillDownload(path=destination, filename=filename)

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        fields = _json_load(body)
        if fields is None:
            raise NotifyRejected("bank notify: not a JSON object")
        if not signing.verify(fields, self.gateway_public_key):
            raise NotifyRejected("bank notify: the gateway signature does not verify")
        if not _same(fields.get("merchant_id"), self.merchant_id):
            raise NotifyRejected("bank notify: for another merchant")
        if not signing.timestamp_fresh(fields.get("timestamp")):
            raise NotifyRejected("bank notify: timestamp out of range")
        order_no, status = fields.get("order_no"), fields.get("status")
        if not isinstance(order_no, str) or not order_no:
            raise NotifyRejected("bank notify: no order number")
        if status not in NOTIFY_STATES:
            raise NotifyRejected(f"bank notify {order_no}: status {status!r} is not final")
        amount = yuan_parse(fields.get("amount"))
        if amount is None:
            raise NotifyRejected(f"bank notify {order_no}: amount is not a yuan string")
        return PayoutNotice(
            order_no=order_no,
            state=STATES[status],
            amount=amount,
            channel_reference=_text(fields, "payout_id"),
            code=_text(fields, "fail_code"),
            message=_text(fields, "fail_message"),
        )

    def parse_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        """The gateway only pays out, so every notify it sends is a payout's."""
        return self.parse_payout_notify(headers=headers, body=body)

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """``0000`` stops the gateway's callbacks; anything else makes it call again later."""
        if accepted:
            return NotifyReply(status=200, content_type="application/json", body=b'{"code":"0000"}')
        return NotifyReply(status=500, content_type="application/json", body=b'{"code":"9999"}')

    def _answer_read(self, response: HttpResponse, *, order_no: str) -> dict[str, Any]:
        """The gateway's verified answer about ``order_no``; anything less is unknown, since the
        request has left and may have been acted on."""
        if response.status >= 500:
            raise UnknownOutcome(f"{order_no}: gateway answered HTTP {response.status}")
        answer = _json_load(response.body)
        if answer is None or not signing.verify(answer, self.gateway_public_key):
            raise UnknownOutcome(f"{order_no}: answer (HTTP {response.status}) is unreadable or not the gateway's")
        if not signing.timestamp_fresh(answer.get("timestamp")):
            raise UnknownOutcome(f"{order_no}: answer timestamp out of range")
        if not _same(answer.get("order_no"), order_no):
            raise UnknownOutcome(f"{order_no}: answer is about another order")
        return answer

    def _bill_verify(self, response: HttpResponse, path: Path, *, what: str) -> None:
        """The gateway's signature headers over the bill: the fields a JSON answer would carry
        (``timestamp``, ``nonce``) and ``body_sha256``, of the file as received, signed as every
        answer's fields are."""
        timestamp = response.headers.get(BILL_TIMESTAMP_HEADER, "")
        fields = {
            "body_sha256": _sha256_of(path),
            "timestamp": timestamp,
            "nonce": response.headers.get(BILL_NONCE_HEADER, ""),
            signing.SIGN_FIELD: response.headers.get(BILL_SIGN_HEADER, ""),
        }
        if not fields["nonce"] or not signing.verify(fields, self.gateway_public_key):
            raise UnknownOutcome(f"{what}: the bill is unsigned or not the gateway's")
        if not signing.timestamp_fresh(timestamp):
            raise UnknownOutcome(f"{what}: signature timestamp out of range")

    def _bill_refusal(self, response: HttpResponse, *, what: str) -> NoReturn:
        """A signed error answer: 3004 not published yet, 2001 rate limited, else a refusal."""
        answer = _json_load(response.body)
        if answer is None or not signing.verify(answer, self.gateway_public_key):
            raise UnknownOutcome(f"{what}: answer (HTTP {response.status}) is unreadable or not the gateway's")
        if not signing.timestamp_fresh(answer.get("timestamp")):
            raise UnknownOutcome(f"{what}: answer timestamp out of range")
        code, message = _text(answer, "code"), _text(answer, "message")
        if code == CODE_BILL_NOT_READY:
            raise BillNotReady(f"{what}: not published yet", code=code)
        if code == CODE_RATE_LIMITED:
            raise RetryableError(f"{what}: the gateway is rate limiting", code=code)
        raise ChannelError(f"{what} refused: {code} {message}".strip(), code=code)


def adapter_from_environment(*, read_timeout: float) -> BankAdapter | None:
    """The real gateway when its credentials are set (PEM keys may have ``\\n`` for newlines)."""
    values = {name: os.environ.get(name, "") for name in ENVIRONMENT}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ImproperlyConfigured(f"Bank channel: {', '.join(missing)} not set")
    private_key, public_key = (values[name].replace("\\n", "\n") for name in ENVIRONMENT[1:3])
    for name, pem, load in (
        ("BANK_PRIVATE_KEY", private_key, signing.private_key_load),
        ("BANK_GATEWAY_PUBLIC_KEY", public_key, signing.public_key_load),
    ):
        try:
            load(pem)
        except ValueError as exc:
            raise ImproperlyConfigured(f"Bank channel: {name} is not a PEM RSA key") from exc
    return BankAdapter(
        merchant_id=values["BANK_MERCHANT_ID"],
        private_key_pem=private_key,
        gateway_public_key_pem=public_key,
        base_url=values["BANK_BASE_URL"],
        read_timeout=read_timeout,
    )


def adapter_for_sandbox(secrets: dict, *, base_url: str, read_timeout: float) -> BankAdapter:
    """Our side of the sandbox's generated keys (``sandbox.bank.keys_generate``)."""
    return BankAdapter(
        merchant_id=secrets["merchant_id"],
        private_key_pem=secrets["merchant_private_key"],
        gateway_public_key_pem=secrets["gateway_public_key"],
        base_url=base_url,
        read_timeout=read_timeout,
    )


def _result(answer: Mapping[str, Any], *, order_no: str) -> PayoutResult:
    status = answer.get("status")
    if not isinstance(status, str) or status not in STATES:
        raise UnknownOutcome(f"{order_no}: gateway status {status!r} not understood")
    return PayoutResult(
        state=STATES[status],
        channel_reference=_text(answer, "payout_id"),
        code=_text(answer, "fail_code"),
        message=_text(answer, "fail_message"),
    )


def _yuan(amount: Decimal) -> str:
    """``12.34``: the gateway takes yuan with two places; more places would be rounding money."""
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(f"payout amount {amount} is not a positive amount of yuan and fen")
    return str(amount.quantize(CENT))


def yuan_parse(value: Any) -> Decimal | None:
    """The Decimal of a wire amount ``"12.34"``; None for any other shape (no exponents, signs)."""
    if not isinstance(value, str):
        return None
    whole, dot, cents = value.partition(".")
    if not (dot and whole.isascii() and whole.isdigit() and len(cents) == 2 and cents.isascii() and cents.isdigit()):
        return None
    return Decimal(value)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _same(value: Any, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(value.encode("utf-8"), expected.encode("utf-8"))


def _text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return value if isinstance(value, str) else ""


def _json_dump(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_load(body: bytes) -> dict[str, Any] | None:
    try:
        fields = json_parse(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return fields if isinstance(fields, dict) else None
