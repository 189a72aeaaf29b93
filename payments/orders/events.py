"""The audit trail of payments and refunds: every request to a channel, every answer and every
notify is a ``PaymentEvent`` with a masked copy of its payload.

Masking keeps what an auditor needs (order numbers, amounts, states, channel ids) and hides
who paid (openids, buyer accounts) and anything signature- or key-like.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from payments.channels.models import Channel
from payments.identifiers import openid_mask
from payments.orders.models import PaymentEvent, PaymentOrder, Refund

# Who paid: shown by their ends only.
PERSONAL_KEYS = frozenset(
    {"openid", "sub_openid", "payer_id", "buyer_id", "buyer_logon_id", "buyer_user_id", "buyer_open_id"}
)
# Signatures, keys and encrypted blobs: never stored.
SECRET_KEYS = frozenset(
    {"sign", "paysign", "signature", "ciphertext", "req_info", "associated_data", "nonce", "key", "api_key"}
)
MAX_TEXT = 500


def payload_mask(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with personal fields masked and secrets removed."""
    if isinstance(value, Mapping):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in SECRET_KEYS:
                masked[name] = "***"
            elif name.lower() in PERSONAL_KEYS and isinstance(item, str):
                masked[name] = openid_mask(item) if item else ""
            else:
                masked[name] = payload_mask(item)
        return masked
    if isinstance(value, list | tuple):
        return [payload_mask(item) for item in value]
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def event_record(
    *,
    operation: str,
    kind: str,
    outcome: str,
    channel: Channel | None = None,
    payment_order: PaymentOrder | None = None,
    refund: Refund | None = None,
    reference: str = "",
    state: str = "",
    amount: Decimal | None = None,
    payload: Mapping[str, Any] | None = None,
    message: str = "",
) -> PaymentEvent:
    if not reference:
        reference = refund.refund_no if refund else payment_order.order_no if payment_order else ""
    return PaymentEvent.objects.create(
        channel=channel,
        payment_order=payment_order,
        refund=refund,
        reference=reference[:64],
        operation=operation,
        kind=kind,
        outcome=outcome,
        state=state[:32],
        amount=amount,
        payload=payload_mask(dict(payload or {})),
        message=message[:MAX_TEXT],
    )
