"""Row locks of payment orders and refunds.

Lock order: a payment order before its refunds, before any ledger row (the hold, then accounts,
which the wallet's posting functions lock in id order).
"""

from payments.channels.models import Channel
from payments.orders.models import PaymentOrder, Refund


def payment_order_lock(pk: int) -> PaymentOrder:
    """The payment order, locked until the end of the transaction: before its refunds and any
    ledger row."""
    return PaymentOrder.objects.select_for_update(of=("self",)).get(pk=pk)


def payment_order_lock_by_number(*, order_no: str, channel: Channel) -> PaymentOrder | None:
    """The channel's order ``order_no`` with its user, locked (the order row only); None when
    there is no such order. One query on the notify's hot path."""
    return (
        PaymentOrder.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(order_no=order_no, channel=channel)
        .first()
    )


def refund_lock(pk: int) -> Refund:
    return Refund.objects.select_for_update(of=("self",)).get(pk=pk)
