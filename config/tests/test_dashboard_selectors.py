"""The dashboard's figures against the database: orders of every kind and state made through the
services, then each figure compared with what was made, and each figure's link opened in the
admin to show the same count."""

from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from config.dashboard import panels, selectors
from config.dashboard.snapshot import CACHE_KEY, snapshot_get, snapshot_take
from payments.channels import base
from payments.conftest import (  # noqa: F401 - the payments fixtures the services need
    sandbox_secrets_once_per_process,
    throttle_history_cleared,
)
from payments.dead_letters.models import DeadLetter
from payments.merchants.tests.factories import awaiting_order, order_payment
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import WithdrawalStatus
from reconciliation.models import Discrepancy
from reconciliation.tests.internal_support import (
    CARD_NUMBER,
    channel_order,
    channel_says,
    forced,
    merchant_service,
    paid_by_channel,
    recharged,
    refund_requested,
    refunded,
    withdrawn,
)
from risk.models import RiskRule
from wallet.dates import local_midnight
from wallet.transfers import services as transfers

D = Decimal
BALANCE_ORDERS = count(1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_snapshot():
    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


@pytest.fixture(autouse=True)
def many_withdrawals_an_hour():
    """The tests submit more withdrawals an hour, a day and a month than one user may."""
    RiskRule.objects.filter(code__in=["hourly_count", "daily_count", "monthly_count", "daily_amount"]).update(
        enabled=False
    )


@pytest.fixture
def supervisor(staff_in):
    return staff_in("finance_supervisor")


@pytest.fixture
def payer(make_user, funded_account):
    user = make_user("payer")
    funded_account(user, "50000.00")
    return user


def paid_from_balance(payer, amount: str):
    """An order payment of the shop that ``payer`` paid from the balance; its own business
    order numbers, apart from those of the channel orders."""
    number = f"BAL-{next(BALANCE_ORDERS)}"
    return order_payment(payer, amount, method="balance", client_type="web", business_order_no=number)


def sent(sender, recipient, amount: str, key: str):
    return transfers.transfer_send(sender=sender, recipient=recipient, amount=D(amount), idempotency_key=key).transfer


def test_volumes_count_and_sum_the_succeeded_orders_of_each_kind_per_local_day(payer, make_user, supervisor):
    # Given orders of every kind today, some in states that moved no money, and one of each kind yesterday
    recharged(payer, "100.00")
    recharged(payer, "50.50")
    channel_order(payer, "999.00")  # still paying
    channel_says(channel_order(payer, "77.00"), base.PaymentState.CLOSED)
    paid = paid_by_channel(payer, "300.00")
    paid_from_balance(payer, "20.00")
    refunded(paid, "30.00", by=merchant_service())
    refunded(paid, "40.00", by=merchant_service(), succeed=False)
    withdrawn(payer, "200.00", WithdrawalStatus.SUCCESS, staff=supervisor)
    withdrawn(payer, "150.00", WithdrawalStatus.FAILED, staff=supervisor)
    friend = make_user("friend")
    sent(payer, friend, "2500.00", "t-held")  # held for review, not posted
    sent(payer, friend, "12.34", "t-1")
    with time_machine.travel(timezone.now() - timedelta(days=1)):
        recharged(payer, "7.00")
        paid_from_balance(payer, "8.00")
        withdrawn(payer, "110.00", WithdrawalStatus.SUCCESS, staff=supervisor)
        sent(payer, friend, "9.00", "t-2")

    # When the volumes of today and yesterday are read
    today = timezone.localdate()
    volumes = selectors.volumes_by_day(first_day=today - timedelta(days=1), last_day=today)

    # Then each kind counts and sums its succeeded orders of each day, and nothing else
    yesterday = today - timedelta(days=1)
    V = selectors.Volume
    assert volumes["recharge"] == {today: V(2, D("150.50")), yesterday: V(1, D("7.00"))}
    assert volumes["payment"] == {today: V(2, D("320.00")), yesterday: V(1, D("8.00"))}
    assert volumes["refund"] == {today: V(1, D("30.00"))}
    assert volumes["withdrawal"] == {today: V(1, D("200.00")), yesterday: V(1, D("110.00"))}
    assert volumes["transfer"] == {today: V(1, D("12.34")), yesterday: V(1, D("9.00"))}


def test_a_day_is_the_local_calendar_day_not_the_utc_one(payer, settings):
    # Given a recharge made at 07:30 in Shanghai, which is still the day before in UTC
    settings.TIME_ZONE = "Asia/Shanghai"
    today = timezone.localdate()
    with time_machine.travel(local_midnight(today) + timedelta(hours=7, minutes=30)):
        recharged(payer, "66.00")

    # When today's volumes are read, then the recharge is today's
    volumes = selectors.volumes_by_day(first_day=today, last_day=today)
    assert volumes["recharge"] == {today: selectors.Volume(1, D("66.00"))}


def test_success_rates_count_the_finished_orders_per_channel_and_leave_open_ones_out(payer, supervisor):
    # Given on WeChat Pay three finished collections, two of them paid, and one still paying;
    # and on the bank three finished payouts, two of them paid
    recharged(payer, "10.00")
    paid_by_channel(payer, "20.00")
    channel_says(channel_order(payer, "30.00"), base.PaymentState.CLOSED)
    channel_order(payer, "40.00")
    for status in (WithdrawalStatus.SUCCESS, WithdrawalStatus.SUCCESS, WithdrawalStatus.FAILED):
        withdrawn(payer, "100.00", status, staff=supervisor)

    # When the channels' day is read
    today = timezone.localdate()
    days = selectors.channel_days(first_day=today, last_day=today)
    names = selectors.channel_names()

    # Then each channel has its finished and succeeded orders of today
    assert [(names[row.channel_id], row.day, row.succeeded, row.finished) for row in days["collection"]] == [
        (names[PaymentOrder.objects.filter(channel__code="wechat_pay").first().channel_id], today, 2, 3)
    ]
    assert [(row.succeeded, row.finished) for row in days["payout"]] == [(2, 3)]
    assert panels.RateCell(2, 3, "", "").rate == D("66.7")
    assert panels.RateCell(0, 0, "", "").rate is None


def test_the_review_queue_counts_pending_withdrawals_their_amount_oldest_and_four_eyes(payer, make_user, supervisor):
    # Given two pending withdrawals, one of them four-eyes, an approved one, and a held transfer
    first = withdrawn_pending(payer, "6000.00", "w-1")
    withdrawn_pending(payer, "9000.00", "w-2")
    withdrawn(payer, "100.00", WithdrawalStatus.SUCCESS, staff=supervisor)
    sent(payer, make_user("friend"), "2500.00", "t-held")

    # When the queues are read
    queue, four_eyes = selectors.withdrawal_queue()
    held = selectors.transfer_queue()

    # Then they hold the pending ones only
    assert (queue.count, queue.amount, queue.oldest, four_eyes) == (2, D("15000.00"), first.created_at, 1)
    assert (held.count, held.amount) == (1, D("2500.00"))


def withdrawn_pending(user, amount: str, key: str):
    """A withdrawal submitted through the service that waits for review (or, small, is approved)."""
    card, _ = withdrawals.payout_account_bind(
        user=user, kind="bank_card", card_number=CARD_NUMBER, holder_name="张三", bank_code="ICBC"
    )
    submission = withdrawals.withdrawal_submit(user=user, payout_account=card, amount=D(amount), idempotency_key=key)
    return submission.withdrawal


@pytest.fixture
def incidents_made(payer, make_user, supervisor):
    """One order of each stuck kind beyond its grace, and one of each within it (not counted)."""
    now = timezone.now()
    ago = lambda **delta: now - timedelta(**delta)  # noqa: E731
    # Withdrawals: approved and not sent, processing at the channel, escalated
    forced(withdrawn_pending(payer, "100.00", "w-1"), approved_at=ago(minutes=2))
    withdrawn_pending(payer, "101.00", "w-2")
    sending = withdrawals.withdrawal_dispatch(withdrawal=withdrawn_pending(payer, "102.00", "w-3"))
    forced(sending, dispatched_at=ago(minutes=11))
    withdrawals.withdrawal_dispatch(withdrawal=withdrawn_pending(payer, "103.00", "w-4"))
    forced(withdrawn_pending(payer, "6000.00", "w-5"), escalated_at=now)
    # Payment orders: paying after 4 hours, awaiting their payer past expiry after 4 hours
    forced(channel_order(payer, "10.00"), created_at=ago(hours=5))
    channel_order(payer, "11.00")
    forced(awaiting_order(payer, "12.00"), created_at=ago(hours=5), expires_at=ago(hours=1))
    forced(awaiting_order(payer, "13.00"), created_at=ago(hours=5), expires_at=now + timedelta(hours=1))
    # Refunds: not sent after a minute, processing after 10 minutes
    paid = paid_by_channel(payer, "500.00")
    forced(refund_requested(paid, "1.00", by=merchant_service()), created_at=ago(minutes=2))
    refund_requested(paid, "2.00", by=merchant_service())
    forced(refund_requested(paid, "3.00", by=merchant_service()), status="processing", sent_at=ago(minutes=11))
    # Dead letters, one retried; discrepancies open, investigating with a proposal, resolved
    DeadLetter.objects.create(task="payments.payout_send", args=[1], error="boom", attempts=5)
    DeadLetter.objects.create(task="payments.payout_send", args=[2], error="boom", attempts=5, retried_at=now)
    for number, status in enumerate(("open", "investigating", "resolved")):
        Discrepancy.objects.create(
            kind="amount_mismatch",
            bill_date=timezone.localdate(),
            object_kind="payment",
            order_no=f"PM-{number}",
            status=status,
            proposed_action="correction" if status == "investigating" else "",
            proposed_amount=D("1.00") if status == "investigating" else None,
            proposed_by=supervisor if status == "investigating" else None,
        )
    return now


EXPECTED_INCIDENTS = {
    "withdrawals_not_sent": 1,
    "withdrawals_processing": 1,
    "withdrawals_escalated": 1,
    "orders_not_final": 1,
    "orders_awaiting_expired": 1,
    "refunds_pending": 1,
    "refunds_processing": 1,
    "dead_letters": 1,
    "discrepancies_open": 2,
    "discrepancy_proposals": 1,
}


def test_incidents_count_what_the_sweeps_call_stuck_or_escalated_and_what_waits_for_someone(incidents_made):
    counts = {name: rows.count() for name, rows in selectors.incidents(now=incidents_made).items()}
    assert counts == EXPECTED_INCIDENTS


def test_the_stuck_payment_orders_are_those_the_hourly_escalation_counts(incidents_made):
    orders, _refunds = payment_orders.payments_escalate(now=incidents_made)
    found = selectors.incidents(now=incidents_made)
    assert found["orders_not_final"].count() + found["orders_awaiting_expired"].count() == orders


def test_every_figure_links_to_a_changelist_that_lists_as_many_rows_as_it_counts(
    incidents_made, payer, supervisor, make_user, client_for
):
    # Given orders of every kind, stuck ones and queues, and a superuser
    recharged(payer, "100.00")
    paid_from_balance(payer, "20.00")
    channel_says(channel_order(payer, "77.00"), base.PaymentState.CLOSED)
    withdrawn(payer, "150.00", WithdrawalStatus.FAILED, staff=supervisor)
    withdrawn(payer, "200.00", WithdrawalStatus.SUCCESS, staff=supervisor)
    sent(payer, make_user("friend"), "12.34", "t-1")
    board = panels.dashboard_for(make_user("root", is_staff=True, is_superuser=True))
    assert board is not None
    client = client_for(make_user("root2", is_staff=True, is_superuser=True))

    # When each figure's link is opened, then the changelist lists as many rows as the figure says
    def listed(url: str) -> int:
        response = client.get(url)
        assert response.status_code == 200, url
        return response.context["cl"].result_count

    counted = [(figure.url, figure.value) for figure in board.review + board.incidents if figure.kind == "count"]
    counted += [(cell.url, cell.count) for row in board.volumes for cell in (row.today, row.yesterday)]
    counted += [
        pair
        for row in board.rates
        for cell in (row.today, row.yesterday)
        for pair in ((cell.succeeded_url, cell.succeeded), (cell.finished_url, cell.finished))
    ]
    assert len(counted) > 30
    assert [(url, listed(url)) for url, _ in counted] == counted
    assert {figure.key: figure.value for figure in board.incidents} == {
        name.replace("_", "-"): count for name, count in EXPECTED_INCIDENTS.items() if name != "discrepancy_proposals"
    }
    assert {row.kind: row.today.count for row in board.volumes} == {
        "recharge": 1,
        "payment": 2,
        "refund": 0,
        "withdrawal": 1,
        "transfer": 1,
    }
    assert {(row.direction, row.today.succeeded, row.today.finished) for row in board.rates} == {
        ("Collection", 2, 3),
        ("Payout", 1, 2),
    }


def test_the_snapshot_is_read_once_a_minute_whoever_asks(payer):
    # Given a snapshot taken before a recharge
    first = snapshot_get()
    recharged(payer, "100.00")

    # When the dashboard is read again within the minute, then it is the same snapshot
    again = snapshot_get()
    assert again.taken_at == first.taken_at
    assert again.volumes["recharge"] == {}

    # and once the minute is over (the cache entry expired) the recharge is there
    cache.delete(CACHE_KEY)
    assert snapshot_get().volumes["recharge"] == {timezone.localdate(): selectors.Volume(1, D("100.00"))}


def test_the_snapshot_reads_every_figure_in_a_fixed_number_of_queries(payer, django_assert_num_queries):
    recharged(payer, "100.00")
    with django_assert_num_queries(20):
        snapshot_take(now=timezone.now())


def test_staff_without_finance_permissions_see_the_app_list_and_no_dashboard(staff_in, client_for):
    page = client_for(staff_in("campaign_manager")).get("/admin/")
    assert page.status_code == 200
    assert page.context["app_list"]
    assert b'id="dashboard"' not in page.content


def test_a_reviewer_sees_the_review_queue_and_no_dead_letters_on_the_admin_index(staff_in, client_for):
    page = client_for(staff_in("finance_reviewer")).get("/admin/").content.decode()
    assert 'id="dashboard-review"' in page
    assert 'id="figure-withdrawal-queue"' in page
    assert 'id="figure-dead-letters"' not in page
    assert 'id="figure-discrepancy-proposals"' not in page
