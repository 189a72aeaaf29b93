"""An open order whose channel lost its route (no credentials, the sandbox off) is answered as it
stands, waits, and is never failed or closed for it; the sweeps retry it later."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import get_resolver
from django.utils import timezone

from payments.channels.models import Channel
from payments.orders import services as payment_orders
from payments.orders.models import PaymentEvent, PaymentOrder
from payments.withdrawals import payouts
from payments.withdrawals.models import WithdrawalStatus

pytestmark = pytest.mark.django_db

RECHARGES = "/api/v1/recharges/"


@pytest.fixture
def paying(alice):
    """A recharge opened at wechat_pay, a minute before expiry."""
    return PaymentOrder.objects.create(
        order_no="RC20261128000000000000123",
        user=alice,
        business_type="recharge",
        method="wechat_native",
        channel=Channel.objects.get(code="wechat_pay"),
        client_type="web",
        subject="钱包充值",
        amount=Decimal("12.00"),
        idempotency_key="k-paying",
        request_fingerprint="f",
        expires_at=timezone.now() + timedelta(minutes=1),
        status="paying",
    )


def unroute(settings) -> None:
    """The deployment lost the channel's credentials and runs without the sandbox. The URLs are
    loaded first: config.urls mounts the sandbox by the setting, once per process."""
    get_resolver().url_patterns  # noqa: B018 - loads the URLconf while the sandbox is on
    settings.SANDBOX_ENABLED = False


@pytest.fixture
def unrouted(settings):
    unroute(settings)


def test_reading_the_order_answers_it_as_it_stands(paying, unrouted, alice, api_client_for):
    response = api_client_for(alice).get(f"{RECHARGES}{paying.order_no}/")

    assert response.status_code == 200
    assert response.json()["status"] == "paying"
    assert not PaymentEvent.objects.filter(payment_order=paying).exists()


def test_closing_it_is_a_conflict_that_changes_nothing(paying, unrouted, alice, api_client_for):
    response = api_client_for(alice).post(f"{RECHARGES}{paying.order_no}/close/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    paying.refresh_from_db()
    assert paying.status == PaymentOrder.Status.PAYING


def test_the_expiry_sweep_leaves_it_open_and_comes_back_later(paying, unrouted):
    PaymentOrder.objects.filter(pk=paying.pk).update(expires_at=timezone.now() - timedelta(minutes=2))

    assert payment_orders.payment_orders_expire() == 1

    paying.refresh_from_db()
    assert paying.status == PaymentOrder.Status.PAYING
    assert paying.next_check_at > timezone.now()
    assert payment_orders.payment_orders_expire() == 0


def test_an_approved_withdrawal_waits_for_its_channel(withdrawal_in, settings):
    withdrawal = withdrawal_in(WithdrawalStatus.APPROVED, "100.00")
    unroute(settings)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "channel_unrouted"

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
