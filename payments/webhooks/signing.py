"""The body and the signature of a webhook (docs/WEBHOOKS.md, "Signature").

``Wallet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, one
``v1`` per valid secret of the merchant (two during a rotation), newest first. The timestamp is
that of the attempt, so a receiver can refuse a replayed old request; the body is the event's,
the same bytes on every attempt.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

EVENT_ID_HEADER = "Wallet-Event-Id"
EVENT_TYPE_HEADER = "Wallet-Event-Type"
SIGNATURE_HEADER = "Wallet-Signature"
SCHEME = "v1"


def event_body(*, public_id: str, type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The JSON document of an event, compact, keys in the documented order."""
    document = {"id": public_id, "type": type, "created_at": created_at.isoformat(), "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("a webhook needs at least one secret to be signed with")
    parts = [f"t={timestamp}"] + [f"{SCHEME}={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets]
    return ",".join(parts)


def request_headers(
    *, public_id: str, type: str, secrets: Sequence[str], timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "wallet-webhooks/1",
        EVENT_ID_HEADER: public_id,
        EVENT_TYPE_HEADER: type,
        SIGNATURE_HEADER: signature_header(secrets=secrets, timestamp=timestamp, body=body),
    }
