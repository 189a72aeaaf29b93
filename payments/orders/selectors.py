"""Read queries over payment orders and refunds: a user's own, and the totals of an order
rebuilt from its events."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Sum

from payments.order_numbers import is_order_no
from payments.orders.models import BusinessType, PaymentEvent, PaymentOrder, Refund
from wallet.money import ZERO


def payment_order_for_user(*, user: User, order_no: str, business_type: str) -> PaymentOrder | None:
    if not is_order_no(order_no):
        return None
    return (
        PaymentOrder.objects.select_related("channel", "merchant")
        .filter(user=user, order_no=order_no, business_type=business_type)
        .first()
    )


def refund_for_user(*, user: User, refund_no: str) -> Refund | None:
    """A refund of the user's own payment (merchants read theirs under merchant/payments/)."""
    if not is_order_no(refund_no):
        return None
    return (
        Refund.objects.select_related("payment_order", "payment_order__channel")
        .filter(refund_no=refund_no, payment_order__user=user)
        .first()
    )


def refundable_amount(*, order: PaymentOrder) -> Decimal:
    """What may still be refunded: the paid amount less every refund not failed."""
    if order.status != PaymentOrder.Status.SUCCESS or order.business_type != BusinessType.ORDER_PAYMENT:
        return ZERO
    taken = order.refunds.exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))["total"] or ZERO
    return order.amount - taken


@dataclass(frozen=True)
class PaymentTotals:
    paid: Decimal
    refunded: Decimal


def payment_totals(*, order: PaymentOrder) -> PaymentTotals:
    """An order's paid and refunded amounts rebuilt from its applied events alone, for audits
    that compare them with the order and the ledger."""
    applied = PaymentEvent.objects.filter(outcome=PaymentEvent.Outcome.APPLIED, amount__isnull=False)
    paid = applied.filter(payment_order=order, refund__isnull=True).aggregate(total=Sum("amount"))["total"]
    refunded = applied.filter(refund__payment_order=order).aggregate(total=Sum("amount"))["total"]
    return PaymentTotals(paid=paid or ZERO, refunded=refunded or ZERO)
