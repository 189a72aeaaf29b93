"""An open order whose channel lost its route (no credentials with the sandbox off, or an adapter
that no longer exists) is answered as it stands, waits, and is never failed or closed for it;
the sweeps offer it again later without an error to retry. A channel switched off by operations
still answers for its open orders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import get_resolver
from django.utils import timezone

from payments.channels.models import Channel
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
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


def adapter_retire(settings) -> None:
    """The channel's adapter was removed from the code while its rows remain."""
    Channel.objects.all().update(adapter="retired")


LOSSES = {"credentials gone": unroute, "adapter removed": adapter_retire}


@pytest.fixture(params=list(LOSSES.values()), ids=list(LOSSES))
def unrouted_later(request, settings):
    """The route is lost after the order was made (by the services, through the sandbox)."""
    return lambda: request.param(settings)


@pytest.fixture(params=list(LOSSES.values()), ids=list(LOSSES))
def unrouted(request, settings):
    request.param(settings)


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


def test_an_approved_withdrawal_waits_for_its_channel(withdrawal_in, unrouted_later):
    withdrawal = withdrawal_in(WithdrawalStatus.APPROVED, "100.00")
    unrouted_later()

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "channel_unrouted"

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED


def test_a_processing_withdrawal_is_not_checked_and_stays_processing(withdrawal_in, unrouted_later):
    withdrawal = withdrawal_in(WithdrawalStatus.PROCESSING, "100.00")
    unrouted_later()

    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "channel_unrouted"

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PROCESSING


def test_reading_a_withdrawal_answers_it_as_it_stands(withdrawal_in, unrouted_later, api_client_for):
    withdrawal = withdrawal_in(WithdrawalStatus.PROCESSING, "100.00")
    unrouted_later()

    response = api_client_for(withdrawal.user).get(f"/api/v1/withdrawals/{withdrawal.order_no}/")

    assert response.status_code == 200
    assert response.json()["status"] == "processing"


@pytest.fixture
def refund_in(paying, alice):
    PaymentOrder.objects.filter(pk=paying.pk).update(status="success")

    def make(status: str) -> Refund:
        return Refund.objects.create(
            refund_no=f"RF2026112800000000000{status[:3]}",
            payment_order=paying,
            amount=Decimal("2.00"),
            status=status,
            requested_by=alice,
            idempotency_key=f"k-{status}",
            request_fingerprint="f",
        )

    return make


def test_a_pending_refund_is_not_sent_and_waits(refund_in, unrouted):
    refund = refund_in(Refund.Status.PENDING)

    assert refunds.refund_send(refund_id=refund.pk) == "channel_unrouted"

    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    assert not PaymentEvent.objects.filter(refund=refund).exists()


def test_a_processing_refund_is_not_queried_and_stays_processing(refund_in, unrouted):
    refund = refund_in(Refund.Status.PROCESSING)

    assert refunds.refund_sync(refund=refund).status == Refund.Status.PROCESSING
    assert not PaymentEvent.objects.filter(refund=refund).exists()


@pytest.fixture
def disabled():
    Channel.objects.all().update(enabled=False)


def test_a_disabled_channels_open_orders_are_still_read_and_swept(paying, disabled, alice, api_client_for):
    response = api_client_for(alice).get(f"{RECHARGES}{paying.order_no}/")
    PaymentOrder.objects.filter(pk=paying.pk).update(expires_at=timezone.now() - timedelta(minutes=2))

    assert response.status_code == 200
    assert payment_orders.payment_orders_expire() == 1
    paying.refresh_from_db()
    # The sandbox never opened this order: its channel answers so, and the sweep comes back later.
    assert paying.status == PaymentOrder.Status.PAYING
    assert paying.next_check_at > timezone.now()
    assert PaymentEvent.objects.filter(payment_order=paying, operation="query").exists()
