"""What WeChat Pay v2 and v3 share: amounts in fen (docs/ARCHITECTURE.md §3: only the WeChat adapters convert)
and the meaning of a trade's ``trade_state``."""

from decimal import Decimal

from payments.channels.base import PaymentState
from wallet.money import is_cents

# SUCCESS and REFUND (paid, then refunded in part or whole) both mean the money arrived.
# PAYERROR is one failed attempt (a declined bank card): the trade stays open, to be paid or closed.
TRADE_STATES = {
    "SUCCESS": PaymentState.PAID,
    "REFUND": PaymentState.PAID,
    "NOTPAY": PaymentState.NOT_PAID,
    "USERPAYING": PaymentState.NOT_PAID,
    "CLOSED": PaymentState.CLOSED,
    "REVOKED": PaymentState.CLOSED,
    "PAYERROR": PaymentState.NOT_PAID,
}


def fen(amount: Decimal, currency: str) -> int:
    """A positive CNY amount of whole fen; anything else is never sent."""
    if currency != "CNY":
        raise ValueError(f"WeChat Pay takes CNY, not {currency}")
    if not is_cents(amount) or amount <= 0:
        raise ValueError("an amount is a positive amount with at most 2 decimal places")
    return int((amount * 100).to_integral_value())
