"""Order payments made before merchants settled to ``merchant:platform``: migration 0017 makes
the merchant that owns that account, so its business system reads and refunds them as before."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from payments.merchants import selectors
from payments.merchants.models import Merchant
from payments.orders import refunds
from payments.orders.models import PaymentOrder
from reconciliation.internal import internal_differences
from reconciliation.tests.internal_support import recharged
from wallet import services as ledger
from wallet.models import Account

pytestmark = pytest.mark.django_db

D = Decimal
migration = importlib.import_module("payments.migrations.0017_merchant_payments")


def legacy_balance_payment(payer, amount: str) -> PaymentOrder:
    """A balance payment as the payer made them before merchants: to the one platform account."""
    platform = Account.objects.create(code="merchant:platform", kind=Account.Kind.MERCHANT)  # made locked, as then
    order = PaymentOrder.objects.create(
        order_no="PM20261128000000000000042",
        user=payer,
        business_type="order_payment",
        business_order_no="BO-OLD",
        method="balance",
        client_type="app",
        subject="Tea",
        amount=D(amount),
        merchant_account=platform,
        status="success",
        idempotency_key="old",
        request_fingerprint="f",
        expires_at=timezone.now() - timedelta(days=1),
        paid_at=timezone.now() - timedelta(days=1),
        finished_at=timezone.now() - timedelta(days=1),
    )
    ledger.transfer_post(
        idempotency_key=f"payment:{order.order_no}",
        kind="order_payment",
        legs=[ledger.Leg(ledger.account_for_user(user=payer), -D(amount)), ledger.Leg(platform, D(amount))],
        reference=order.order_no,
    )
    return order


def migrate_forward() -> None:
    with connection.schema_editor() as editor:
        migration.platform_merchant_create(apps, editor)


def test_the_old_refunding_account_becomes_the_platform_merchant_and_refunds_its_old_orders(alice, make_user):
    # Given an old balance payment, and the service account that held the old refund permission
    recharged(alice, "100.00")
    order = legacy_balance_payment(alice, "40.00")
    shop = make_user("shop")
    permission, _ = Permission.objects.get_or_create(
        codename="refund_paymentorder",
        content_type=ContentType.objects.get_for_model(PaymentOrder),
        defaults={"name": "Can refund order payments"},
    )
    shop.user_permissions.add(permission)

    # When the migration's data step runs (twice: it is idempotent)
    migrate_forward()
    migrate_forward()

    # Then that account is the platform merchant's, its account still the locked old one
    platform = Merchant.objects.get()
    assert (platform.code, platform.service_user, platform.account.code) == ("platform", shop, "merchant:platform")
    assert not platform.account.is_hot
    # And it finds and refunds the old order, through escrow, within what the account holds
    assert selectors.merchant_payment(merchant=platform, order_no=order.order_no) == order
    refund = refunds.refund_request(order=order, actor=shop, amount=D("15.00"), idempotency_key="r").refund
    assert refund.status == "success"
    assert Account.objects.get(owner=alice).balance == D("75.00")
    assert Account.objects.get(code="merchant:platform").balance == D("25.00")
    assert internal_differences() == []


def test_without_an_old_refunding_account_a_platform_service_user_is_made(alice):
    recharged(alice, "100.00")
    legacy_balance_payment(alice, "40.00")

    migrate_forward()

    assert Merchant.objects.get().service_user.username == "merchant-platform"


def test_a_database_without_old_order_payments_gets_no_platform_merchant():
    Account.objects.create(code="merchant:platform", kind=Account.Kind.MERCHANT)

    migrate_forward()

    assert not Merchant.objects.exists()
