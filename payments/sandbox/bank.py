"""Sandbox endpoints of the bank gateway: ``POST v1/payouts``, ``GET v1/payouts/<order_no>`` and
``GET v1/bills/<YYYY-MM-DD>``.

Like the real gateway it checks the merchant's signature before anything else (a bad one gets
code 1001 and pays nothing), signs every answer with the gateway key, and calls our notify URL
with a signed callback. It keeps only the last four digits of a card. The day's bill is a CSV
(docs/RECONCILIATION.md, "Bank payout gateway bill") whose signature travels in headers.
"""

import hmac
import json
import re
import secrets as token
import tempfile
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from payments.channels.bank import signing
from payments.channels.bank.adapter import yuan_parse
from payments.identifiers import card_number_mask, luhn_valid
from payments.sandbox import engine
from payments.sandbox.bill_bank import RETURNED_CODE
from payments.sandbox.bill_rules import BillNotPublished
from payments.sandbox.bills import HashingWriter, bill_publish, bill_write
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, Protocol, SandboxPayout, Scenario
from wallet.json_input import json_parse

CODE_OK = "0000"
WIRE_STATUS = {
    SandboxPayout.State.PROCESSING: "PROCESSING",
    SandboxPayout.State.SUCCESS: "SUCCESS",
    SandboxPayout.State.FAILED: "FAILED",
    SandboxPayout.State.RETURNED: "RETURNED",
}
REQUIRED = ("order_no", "amount", "currency", "card_number", "holder_name", "bank_code")
ORDER_NO_MAX = SandboxPayout._meta.get_field("order_no").max_length or 64
NOTIFY_URL_MAX = SandboxPayout._meta.get_field("notify_url").max_length or 300
JSON_TYPE = "application/json; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
BILL_NOT_READY = {"code": "3004", "message": "bill not ready"}
BILL_TIMESTAMP_HEADER, BILL_NONCE_HEADER, BILL_SIGN_HEADER = "X-Timestamp", "X-Nonce", "X-Sign"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


class Refusal(NamedTuple):
    """A gateway error answer: its code, and the reason in words."""

    code: str
    fail_code: str
    message: str


BILL_DATE_INVALID = Refusal("1002", "DATE_INVALID", "bill date must be YYYY-MM-DD")


def keys_generate() -> dict:
    """The merchant's pair (its private half configures our adapter) and the gateway's."""
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    gateway = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "merchant_id": f"898{token.randbelow(10**12):012d}",
        "merchant_private_key": _private_pem(merchant),
        "merchant_public_key": _public_pem(merchant),
        "gateway_private_key": _private_pem(gateway),
        "gateway_public_key": _public_pem(gateway),
    }


@csrf_exempt
@require_POST
def payout_create(request: HttpRequest) -> HttpResponse:
    secrets = keys_for(Protocol.BANK)
    fields = _json_load(request.body)
    order_no = _text(fields, "order_no")
    refusal = _authentication_refusal(fields, secrets) or _payout_refusal(fields)
    if refusal is not None:
        return _answer(secrets, _refusal_fields(order_no, refusal))
    decision = engine.payout_receive(
        protocol=Protocol.BANK,
        order_no=order_no,
        amount=Decimal(fields["amount"]),
        payee_masked=card_number_mask(fields["card_number"]),
        notify_url=_text(fields, "notify_url"),
    )
    payout = decision.payout
    if payout is None:  # TIMEOUT or SERVER_ERROR: nothing taken
        if decision.scenario == Scenario.TIMEOUT:
            engine.pause(decision.delay)
            return HttpResponse("gateway timeout", status=504, content_type="text/plain")
        return HttpResponse(b'{"code":"9999","fail_message":"system error"}', status=500, content_type=JSON_TYPE)
    if decision.scenario == Scenario.SLOW:
        engine.pause(decision.delay)
    response = _answer(secrets, {"code": CODE_OK, **_payout_fields(payout)})
    if decision.scenario == Scenario.DROP_RESPONSE:
        response.content = response.content[: len(response.content) // 2]
    return response


@csrf_exempt
@require_GET
def payout_query(request: HttpRequest, order_no: str) -> HttpResponse:
    secrets = keys_for(Protocol.BANK)
    refusal = _authentication_refusal(request.GET.dict(), secrets)
    if refusal is None:
        payout = engine.payout_find(protocol=Protocol.BANK, order_no=order_no)
        if payout is not None:
            return _answer(secrets, {"code": CODE_OK, **_payout_fields(payout)})
        refusal = Refusal("4004", "ORDER_NOT_FOUND", "no payout with this order number")
    return _answer(secrets, _refusal_fields(order_no, refusal))


@csrf_exempt
@require_GET
def bill_download(request: HttpRequest, day: str) -> HttpResponseBase:
    """The day's payout bill, signed in headers over its bytes; 404 code 3004 while it is not out.
    A refusal is a signed JSON 400: a 2xx answer is always a bill."""
    secrets = keys_for(Protocol.BANK)
    refusal = _authentication_refusal(request.GET.dict(), secrets)
    if refusal is not None:
        return _answer(secrets, _refusal_fields("", refusal), status=400)
    bill_date = _day_parse(day)
    if bill_date is None:
        return _answer(secrets, _refusal_fields("", BILL_DATE_INVALID), status=400)
    try:
        rules = bill_publish(protocol=Protocol.BANK, kind=BillKind.PAYOUT, day=bill_date)
    except BillNotPublished:
        return _answer(secrets, BILL_NOT_READY, status=404)
    bill = tempfile.TemporaryFile()  # noqa: SIM115 - the response streams it, then closes it
    hashing = HashingWriter(bill, "sha256")
    bill_write(Protocol.BANK, BillKind.PAYOUT, bill_date, hashing, rules=rules)
    bill.seek(0)
    return FileResponse(bill, content_type=CSV_TYPE, headers=_body_signed(secrets, hashing.hexdigest()))


def notify_acknowledged(status: int, body: bytes) -> bool:
    """The gateway stops calling back only on a 2xx whose JSON says code ``0000``."""
    if not 200 <= status < 300:
        return False
    try:
        answer = json_parse(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("code") == CODE_OK


def notify_build(payout: SandboxPayout, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """The gateway's callback for a final state; a payout still processing has none to send."""
    if payout.state == SandboxPayout.State.PROCESSING:
        return None
    fields = {
        "merchant_id": secrets["merchant_id"],
        "amount": f"{payout.amount:.2f}",
        **_payout_fields(payout),
        **signing.stamp_new(),
    }
    return {"Content-Type": JSON_TYPE}, _json_dump(signing.signed(fields, _gateway_key(secrets)))


urlpatterns = [
    path("v1/payouts", payout_create, name="sandbox-bank-payout"),
    path("v1/payouts/<path:order_no>", payout_query, name="sandbox-bank-payout-query"),
    path("v1/bills/<str:day>", bill_download, name="sandbox-bank-bill"),
]


def _authentication_refusal(fields: dict[str, Any], secrets: dict) -> Refusal | None:
    merchant_key = signing.public_key_load(secrets["merchant_public_key"])
    ours = hmac.compare_digest(_text(fields, "merchant_id").encode("utf-8"), secrets["merchant_id"].encode("utf-8"))
    if not (ours and signing.verify(fields, merchant_key)):
        return Refusal("1001", "SIGN_ERROR", "signature does not verify")
    if not signing.timestamp_fresh(fields.get("timestamp")) or not _text(fields, "nonce"):
        return Refusal("1002", "TIMESTAMP_INVALID", "timestamp out of range or nonce missing")
    return None


def _payout_refusal(fields: dict[str, Any]) -> Refusal | None:
    missing = [name for name in REQUIRED if not _text(fields, name)]
    if missing:
        return Refusal("1002", "PARAMETER_MISSING", f"missing {', '.join(missing)}")
    amount = yuan_parse(fields["amount"])
    if amount is None or amount <= 0:
        return Refusal("1002", "AMOUNT_INVALID", "amount must be positive yuan with two places")
    if fields["currency"] != "CNY":
        return Refusal("1002", "CURRENCY_UNSUPPORTED", "only CNY")
    if len(fields["order_no"]) > ORDER_NO_MAX or len(_text(fields, "notify_url")) > NOTIFY_URL_MAX:
        return Refusal("1002", "PARAMETER_TOO_LONG", "order_no or notify_url too long")
    card = fields["card_number"]
    if not (card.isascii() and card.isdigit() and 12 <= len(card) <= 19 and luhn_valid(card)):
        return Refusal("1003", "CARD_INVALID", "card number invalid")
    return None


def _answer(secrets: dict, fields: dict[str, str], *, status: int = 200) -> HttpResponse:
    body = _json_dump(signing.signed({**fields, **signing.stamp_new()}, _gateway_key(secrets)))
    return HttpResponse(body, status=status, content_type=JSON_TYPE)


def _body_signed(secrets: dict, body_sha256: str) -> dict[str, str]:
    """The headers that sign a body that is not JSON: the fields a JSON answer would carry
    (timestamp, nonce, sign), the signature over them and the SHA-256 of the body's bytes."""
    stamp = signing.stamp_new()
    sign = signing.sign({**stamp, "body_sha256": body_sha256}, _gateway_key(secrets))
    return {BILL_TIMESTAMP_HEADER: stamp["timestamp"], BILL_NONCE_HEADER: stamp["nonce"], BILL_SIGN_HEADER: sign}


def _refusal_fields(order_no: str, refusal: Refusal) -> dict[str, str]:
    return {"code": refusal.code, "order_no": order_no, "fail_code": refusal.fail_code, "fail_message": refusal.message}


def _payout_fields(payout: SandboxPayout) -> dict[str, str]:
    fail_code, fail_message = "", ""
    if payout.state == SandboxPayout.State.FAILED:
        fail_code, fail_message = payout.failure_code, "the payee's bank refused the payout"
    elif payout.state == SandboxPayout.State.RETURNED:
        fail_code, fail_message = RETURNED_CODE, "the payee's bank returned the payout"
    return {
        "order_no": payout.order_no,
        "payout_id": payout.channel_reference,
        "status": WIRE_STATUS[SandboxPayout.State(payout.state)],
        "fail_code": fail_code,
        "fail_message": fail_message,
    }


def _gateway_key(secrets: dict) -> rsa.RSAPrivateKey:
    return signing.private_key_load(secrets["gateway_private_key"])


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _day_parse(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if _DAY.match(text) else None
    except ValueError:
        return None


def _text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    return value if isinstance(value, str) else ""


def _json_dump(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_load(body: bytes) -> dict[str, Any]:
    """The request's fields; anything that is not a JSON object has none (and no signature)."""
    try:
        fields = json_parse(body)
    except (UnicodeDecodeError, ValueError):
        return {}
    return fields if isinstance(fields, dict) else {}
