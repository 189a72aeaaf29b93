"""Merchants and their order payments for tests, through the services: a merchant creates the
order, its payer pays it (docs/MERCHANTS.md)."""

from decimal import Decimal
from itertools import count

from django.contrib.auth.models import User

from payments.merchants import services as merchants
from payments.merchants.models import Merchant
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder

_numbers = count(1)


def merchant_new(code: str = "shop", *, service_user: User | None = None, notify_url: str = "") -> Merchant:
    """A merchant with its own service user (named ``code`` unless given)."""
    user = service_user or User.objects.create_user(username=code, password="pw-for-tests-only")
    return merchants.merchant_create(code=code, name=f"{code} Ltd", service_user=user, notify_url=notify_url).merchant


def merchant_of(code: str = "shop") -> Merchant:
    """The merchant ``code``, created on first use."""
    return Merchant.objects.filter(code=code).first() or merchant_new(code)


def awaiting_order(
    payer: User,
    amount: str | Decimal,
    *,
    merchant: Merchant | None = None,
    business_order_no: str = "",
    subject: str = "Order",
    **extra,
) -> PaymentOrder:
    number = next(_numbers)
    return merchants.merchant_payment_create(
        merchant=merchant or merchant_of(),
        business_order_no=business_order_no or f"BO-{number}",
        amount=Decimal(amount),
        subject=subject,
        payer=payer.username,
        idempotency_key=f"merchant-key-{number}",
        **extra,
    ).order


def order_payment(
    payer: User,
    amount: str | Decimal,
    *,
    method: str = "balance",
    client_type: str = "app",
    payer_id: str = "",
    merchant: Merchant | None = None,
    **extra,
) -> PaymentOrder:
    """An order payment the merchant made for ``payer``, paid (balance) or opened at a channel."""
    order = awaiting_order(payer, amount, merchant=merchant, **extra)
    return payment_orders.payment_order_pay(
        order=order, payer=payer, method=method, client_type=client_type, payer_id=payer_id
    ).order
