"""Reads of a merchant's own order payments and refunds (docs/MERCHANTS.md).

A merchant's orders are those that settle to its account: the same as ``merchant`` for the
orders it created, and also the order payments made before merchants for the merchant that owns
``merchant:platform``. Another merchant's order or refund is never found (a 404 in the API).
"""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from payments.merchants.models import Merchant
from payments.order_numbers import is_order_no
from payments.orders.models import BusinessType, PaymentOrder, Refund


def merchant_of_user(*, user: User) -> Merchant | None:
    """The merchant ``user`` is the service account of, or None."""
    return Merchant.objects.select_related("account").filter(service_user=user).first()


def merchant_payment(*, merchant: Merchant, order_no: str) -> PaymentOrder | None:
    if not is_order_no(order_no):
        return None
    return (
        PaymentOrder.objects.select_related("channel", "user")
        .filter(merchant_account_id=merchant.account_id, business_type=BusinessType.ORDER_PAYMENT, order_no=order_no)
        .first()
    )


def merchant_payment_refunds(*, order: PaymentOrder) -> QuerySet[Refund]:
    return order.refunds.order_by("created_at", "id")


def merchant_refund(*, merchant: Merchant, order_no: str, refund_no: str) -> Refund | None:
    if not is_order_no(order_no) or not is_order_no(refund_no):
        return None
    return (
        Refund.objects.select_related("payment_order", "payment_order__channel")
        .filter(
            refund_no=refund_no,
            payment_order__order_no=order_no,
            payment_order__merchant_account_id=merchant.account_id,
        )
        .first()
    )


def merchant_payments(*, merchant: Merchant) -> QuerySet[PaymentOrder]:
    """Every order payment of the merchant, newest first (the admin's list)."""
    return PaymentOrder.objects.filter(merchant_account_id=merchant.account_id).order_by("-created_at", "-id")
