"""Helpers of the reconciliation tests: instants of a local day, and a bill's lines for orders."""

from datetime import date, datetime, time
from decimal import Decimal

from django.utils import timezone

from payments.channels.bills import LineKind, LineStatus
from payments.orders.models import PaymentOrder, Refund
from reconciliation.models import BillLine

D = Decimal


def at(day: date, clock: str) -> datetime:
    """``day`` at ``HH:MM[:SS]``, China time."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=timezone.get_current_timezone())


def payment_line(order: PaymentOrder, **changes) -> dict:
    """The channel's line for ``order`` as it booked it."""
    return {
        "kind": LineKind.PAYMENT,
        "order_no": order.order_no,
        "amount": order.amount,
        "fee": order.fee,
        "occurred_at": order.paid_at,
        **changes,
    }


def refund_line(refund: Refund, **changes) -> dict:
    order = refund.payment_order
    return {
        "kind": LineKind.REFUND,
        "order_no": refund.refund_no,
        "parent_no": order.order_no,
        "amount": refund.amount,
        "fee": -(order.fee * refund.amount / order.amount).quantize(D("0.01")),
        "occurred_at": refund.finished_at,
        **changes,
    }


def line_row(line_no: int, line: dict, day: date) -> BillLine:
    fields = {
        "line_no": line_no,
        "status": LineStatus.SUCCESS,
        "channel_reference": f"CH{line_no}",
        "fee": None,
        "occurred_at": at(day, "12:00"),
        **line,
    }
    fields["amount"] = D(fields["amount"])
    fields["fee"] = None if fields["fee"] is None else D(fields["fee"])
    return BillLine(**fields)
