"""Recharges, order payments and refunds on a user's statement (wallet.statements): "Recharge
via WeChat Pay", "Payment to Tea House: Tea", "Refund of order P2026...", with the channel's or
the merchant's name."""

from collections.abc import Sequence

from django.utils.translation import gettext as _

from payments.orders.models import BusinessType, PaymentOrder, Refund
from wallet.models import Entry
from wallet.statements import StatementLine, references


def payment_statement_lines(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    """Recharges, balance payments and their reversals, by the order number each transfer
    references: one query for the page."""
    orders = {
        order.order_no: order
        for order in PaymentOrder.objects.filter(order_no__in=references(entries)).select_related("channel", "merchant")
    }
    lines = {}
    for entry in entries:
        order = orders.get(entry.transfer.reference)
        if order is None:
            continue
        lines[entry.pk] = _payment_line(order, reversed_=entry.transfer.kind.endswith("_reversal"))
    return lines


def refund_statement_lines(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    """Refunds to the wallet, by the refund number each transfer references: one query for the page."""
    refunds = {
        refund.refund_no: refund
        for refund in Refund.objects.filter(refund_no__in=references(entries)).select_related("payment_order__merchant")
    }
    lines = {}
    for entry in entries:
        refund = refunds.get(entry.transfer.reference)
        if refund is None:
            continue
        order = refund.payment_order
        lines[entry.pk] = StatementLine(
            counterparty=order.merchant.name if order.merchant else None,
            description=_("Refund of order %(order_no)s") % {"order_no": order.order_no},
        )
    return lines


def _payment_line(order: PaymentOrder, *, reversed_: bool) -> StatementLine:
    if order.business_type == BusinessType.RECHARGE:
        channel = order.channel.name if order.channel else None
        if reversed_:
            return StatementLine(channel, _("Recharge %(order_no)s reversed") % {"order_no": order.order_no})
        return StatementLine(channel, _("Recharge via %(channel)s") % {"channel": channel})
    merchant = order.merchant.name if order.merchant else None
    if reversed_:
        return StatementLine(merchant, _("Payment %(order_no)s reversed") % {"order_no": order.order_no})
    if merchant is None:
        return StatementLine(None, _("Payment: %(subject)s") % {"subject": order.subject})
    return StatementLine(
        merchant, _("Payment to %(merchant)s: %(subject)s") % {"merchant": merchant, "subject": order.subject}
    )
