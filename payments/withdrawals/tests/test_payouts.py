"""The pipeline's pieces in-process: sending against the sandbox on the live server, notices,
sweeps, escalation, dead letters and user notifications. The worker-driven paths are in
test_pipeline.py."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from urllib3.connection import HTTPConnection

from config.celery import app as celery_app
from config.tests.metrics import metric
from payments import encryption
from payments.channels import registry
from payments.channels.base import PayoutNotice, PayoutState, UnknownOutcome
from payments.channels.models import Channel
from payments.dead_letters.models import DeadLetter
from payments.dead_letters.services import dead_letter_record
from payments.notifications import services as notifications
from payments.notifications.models import UserNotification
from payments.sandbox import engine
from payments.sandbox.adapters import sandbox_adapters
from payments.sandbox.models import SandboxPayout, SandboxRule, Scenario
from payments.withdrawals import dispatch, payouts, services, tasks
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet import errors
from wallet.audit import ledger_audit
from wallet.models import Account

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
S = WithdrawalStatus


@pytest.fixture
def approved(make_user, funded_account, submit, sent_tasks):
    """An approved withdrawal of 10.00 (9.90 paid out), its dispatch task not sent anywhere."""

    def make(amount: str = "10.00") -> Withdrawal:
        user = make_user()
        funded_account(user, "100.00")
        return submit(user, amount)

    return make


def latest(withdrawal: Withdrawal) -> Withdrawal:
    return Withdrawal.objects.get(pk=withdrawal.pk)


def notice(withdrawal: Withdrawal, state: PayoutState, amount: str = "9.90") -> PayoutNotice:
    return PayoutNotice(order_no=withdrawal.order_no, state=state, amount=D(amount), channel_reference="R1")


def test_sending_commits_processing_before_the_request_and_applies_the_answer(sandbox_live, approved):
    withdrawal = approved()
    engine.rule_add(protocol="bank", scenario=Scenario.SLOW, delay_seconds=0.5)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "success"

    sent = latest(withdrawal)
    payout = SandboxPayout.objects.get(order_no=withdrawal.order_no)
    assert (sent.status, sent.channel_reference) == (S.SUCCESS, payout.channel_reference)
    assert sent.dispatched_at is not None
    assert sent.dispatched_at < payout.created_at  # processing was committed before the channel got it
    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "not_sendable"
    assert payout.requests == 1


def test_an_accepted_payout_stays_processing_until_its_notice(sandbox_live, approved):
    withdrawal = approved()
    engine.rule_add(protocol="bank", scenario=Scenario.PROCESS)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "processing"
    assert latest(withdrawal).status == S.PROCESSING

    payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, PayoutState.SUCCESS))
    payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, PayoutState.SUCCESS))
    assert latest(withdrawal).status == S.SUCCESS
    assert UserNotification.objects.filter(reference=withdrawal.order_no).count() == 1
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("state", "amount", "error"),
    [
        (PayoutState.SUCCESS, "9.91", errors.Conflict),  # another amount
        (PayoutState.SUCCESS, "10.00", errors.Conflict),  # the amount before the fee
    ],
)
def test_a_notice_with_another_amount_changes_nothing(sandbox_live, approved, state, amount, error):
    withdrawal = services.withdrawal_dispatch(withdrawal=approved())

    with pytest.raises(error):
        payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, state, amount))

    assert latest(withdrawal).status == S.PROCESSING


def test_a_notice_for_an_unknown_order_or_another_channel_changes_nothing(sandbox_live, approved):
    withdrawal = services.withdrawal_dispatch(withdrawal=approved())
    unknown = PayoutNotice(order_no="WD0", state=PayoutState.SUCCESS, amount=D("9.90"))

    with pytest.raises(errors.NotFound):
        payouts.payout_notice_apply(channel_code="bank", notice=unknown)
    with pytest.raises(errors.NotFound):
        payouts.payout_notice_apply(channel_code="wechat", notice=notice(withdrawal, PayoutState.SUCCESS))

    assert latest(withdrawal).status == S.PROCESSING


def test_a_failure_notice_after_success_is_a_contradiction_and_changes_nothing(sandbox_live, approved):
    withdrawal = approved()
    payouts.payout_send(withdrawal_id=withdrawal.pk)

    with pytest.raises(errors.Conflict):
        payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, PayoutState.FAILED))

    assert latest(withdrawal).status == S.SUCCESS
    assert ledger_audit() == []


def test_a_returned_notice_after_success_refunds_once(sandbox_live, approved):
    withdrawal = approved()
    payouts.payout_send(withdrawal_id=withdrawal.pk)

    for _ in range(2):
        payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, PayoutState.RETURNED))
    payouts.payout_notice_apply(channel_code="bank", notice=notice(withdrawal, PayoutState.SUCCESS))

    assert latest(withdrawal).status == S.REFUNDED
    wallet = Account.objects.get(owner=withdrawal.user)
    assert (wallet.balance, wallet.held) == (D("100.00"), D("0.00"))
    assert ledger_audit() == []


def test_the_check_resends_an_order_the_channel_never_received(sandbox_live, approved):
    withdrawal = approved()
    engine.rule_add(protocol="bank", scenario=Scenario.SERVER_ERROR, remaining=1)
    with pytest.raises(UnknownOutcome):
        payouts.payout_send(withdrawal_id=withdrawal.pk)
    assert latest(withdrawal).status == S.PROCESSING

    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "success"

    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1


def test_the_check_finishes_an_order_the_channel_paid_without_answering(sandbox_live, approved):
    withdrawal = approved()
    engine.rule_add(protocol="bank", scenario=Scenario.DROP_RESPONSE)
    with pytest.raises(UnknownOutcome):
        payouts.payout_send(withdrawal_id=withdrawal.pk)

    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "success"

    assert latest(withdrawal).status == S.SUCCESS
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1


def test_the_sweeps_pick_stuck_orders_after_their_grace(approved):
    waiting = approved()
    sent = services.withdrawal_dispatch(withdrawal=approved())
    fresh = approved()
    now = timezone.now()
    Withdrawal.objects.filter(pk=waiting.pk).update(approved_at=now - timedelta(seconds=61))
    Withdrawal.objects.filter(pk=sent.pk).update(dispatched_at=now - timedelta(minutes=11))

    assert payouts.approved_stuck_ids() == [waiting.pk]
    assert payouts.processing_stuck_ids() == [sent.pk]
    assert fresh.pk not in payouts.approved_stuck_ids()


def test_the_approved_sweep_resends_lost_tasks_but_not_those_still_queued(approved, sent_tasks):
    # Given two orders approved two minutes ago, one whose task still waits in the queue
    queued, lost = approved(), approved()
    Withdrawal.objects.filter(pk__in=[queued.pk, lost.pk]).update(approved_at=timezone.now() - timedelta(minutes=2))
    cache.delete(f"payments:dispatch-queued:{lost.pk}")
    sent_tasks.clear()

    # When the sweep runs twice
    first, second = tasks.sweep_approved(), tasks.sweep_approved()

    # Then only the lost one is enqueued again, once
    assert (first, second) == (1, 0)
    assert sent_tasks.named("payments.withdrawal_dispatch") == [{"args": [lost.pk], "countdown": None}]


def test_a_dispatch_the_broker_refused_leaves_no_queued_marker_so_the_next_sweep_sends_it(approved, monkeypatch):
    # Given an order approved two minutes ago whose dispatch the broker refused (it was restarting)
    withdrawal = approved()
    Withdrawal.objects.filter(pk=withdrawal.pk).update(approved_at=timezone.now() - timedelta(minutes=2))

    def broker_down(*args, **kwargs) -> None:
        raise OSError("broker down")

    with monkeypatch.context() as patch:
        patch.setattr(celery_app, "send_task", broker_down)
        with pytest.raises(OSError, match="broker down"):
            dispatch.dispatch_enqueue(withdrawal.pk)

    # Then the approved sweep does not take it for queued: it sends it at once, not 15 minutes later
    assert dispatch.dispatch_not_queued([withdrawal.pk]) == [withdrawal.pk]


def test_a_queued_marker_counts_for_its_grace_on_the_clock_the_sweep_is_given(approved):
    # Given an order whose dispatch task was queued (and lost with its worker before it started)
    withdrawal = approved()
    dispatch.dispatch_mark_queued(withdrawal.pk)

    # Then the sweep leaves it alone within the grace, and sends it again once the grace is over
    assert dispatch.dispatch_not_queued([withdrawal.pk]) == []
    later = timezone.now() + dispatch.QUEUED_GRACE + timedelta(seconds=1)
    assert dispatch.dispatch_not_queued([withdrawal.pk], now=later) == [withdrawal.pk]


def test_orders_not_final_after_four_hours_are_escalated_once_with_a_log_line_and_a_metric(approved, caplog):
    stale, fresh = approved(), approved()
    Withdrawal.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=4, minutes=1))
    before = metric("wallet_withdrawals_escalated_total")
    caplog.set_level(logging.WARNING, logger="payments.payouts")

    assert payouts.withdrawals_escalate() == 1
    assert payouts.withdrawals_escalate() == 0

    assert latest(stale).escalated_at is not None
    assert latest(fresh).escalated_at is None
    assert f"withdrawal escalated: {stale.order_no} still approved" in caplog.text
    assert metric("wallet_withdrawals_escalated_total") == before + 1


def test_the_payout_and_payment_sweeps_are_scheduled_by_migration():
    schedules = {
        task.task: (task.interval.every, task.interval.period)
        for task in PeriodicTask.objects.filter(task__startswith="payments.sweep_").select_related("interval")
    }

    assert schedules == {
        "payments.sweep_approved": (1, "minutes"),
        "payments.sweep_processing": (5, "minutes"),
        "payments.sweep_escalate": (1, "hours"),
        "payments.sweep_expired_payments": (1, "minutes"),
        "payments.sweep_refunds": (5, "minutes"),
        "payments.sweep_webhooks": (1, "minutes"),
    }


def test_a_dead_letter_is_retried_once_by_operations(approved, staff_in, client_for, sent_tasks):
    withdrawal = approved()
    letter = dead_letter_record(
        task="payments.withdrawal_dispatch", args=[withdrawal.pk], withdrawal_id=withdrawal.pk, error="5xx", attempts=4
    )
    sent_tasks.clear()
    client = client_for(staff_in("operations"))

    response = client.post("/admin/payments/deadletter/", {"action": "retry_selected", "_selected_action": [letter.pk]})
    client.post("/admin/payments/deadletter/", {"action": "retry_selected", "_selected_action": [letter.pk]})

    assert response.status_code == 302
    assert sent_tasks.named("payments.withdrawal_dispatch") == [{"args": [withdrawal.pk], "countdown": None}]
    letter.refresh_from_db()
    assert letter.retried_at is not None
    assert letter.retried_by is not None and letter.retried_by.groups.filter(name="operations").exists()


def test_auditors_see_dead_letters_but_cannot_retry_them(staff_in, client_for, approved):
    withdrawal = approved()
    dead_letter_record(task="t", args=[withdrawal.pk], withdrawal_id=withdrawal.pk, error="x", attempts=4)
    client = client_for(staff_in("auditor"))

    page = client.get("/admin/payments/deadletter/")

    assert page.status_code == 200
    assert "retry_selected" not in page.content.decode()


def test_notifications_go_through_the_configured_sender_once(settings, approved):
    settings.NOTIFICATION_SENDER = "payments.withdrawals.tests.test_payouts.record_sender"
    RECORDED.clear()
    withdrawal = approved()
    notification = notifications.notification_create(
        user=withdrawal.user,
        kind=UserNotification.Kind.WITHDRAWAL_SUCCEEDED,
        reference="R",
        params={"order_no": "R", "amount": "1.00"},
    )

    notifications.notification_deliver(notification_id=notification.pk)
    notifications.notification_deliver(notification_id=notification.pk)

    assert RECORDED == ["Your withdrawal R of 1.00 has been paid out."]
    assert UserNotification.objects.get(pk=notification.pk).sent_at is not None


RECORDED: list[str] = []


def record_sender(notification: UserNotification) -> None:
    RECORDED.append(notification.text())


@pytest.mark.slow
def test_the_payout_drill_ends_every_order_final_with_no_double_payout(celery_worker_process, capsys):
    celery_worker_process.start()

    call_command("payout_drill", count=20, mix="fail=0.2,server_error=0.2,drop_response=0.1", sweep_after=3, timeout=90)

    out = capsys.readouterr().out
    assert "all 20 orders are final" in out
    assert "our orders: failed 4, success 16" in out
    assert "at the sandbox: paid 16, refused 4" in out
    assert "final orders that agree with the sandbox: 20 of 20" in out
    assert "ledger audit: clean" in out


def test_an_adapter_reuses_one_connection_for_its_requests(sandbox_live, approved, monkeypatch):
    # Count the TCP connections the adapters open (the sandbox's notifies are not sent here).
    opened: list[str] = []
    connect = HTTPConnection.connect

    def counting_connect(connection: HTTPConnection) -> None:
        opened.append(connection.host)
        connect(connection)

    monkeypatch.setattr(HTTPConnection, "connect", counting_connect)
    sandbox_adapters.cache_clear()  # a new adapter, as in a new process
    adapter = registry.payout_adapter(Channel.objects.get(code="bank"))

    for _ in range(3):
        payouts.payout_send(withdrawal_id=approved().pk)

    assert registry.payout_adapter(Channel.objects.get(code="bank")) is adapter
    assert opened == ["localhost"]


def test_the_drill_refuses_a_channel_that_pays_real_money(settings):
    settings.SANDBOX_ENABLED = False

    with pytest.raises(CommandError, match="real money"):
        call_command("payout_drill", count=5)

    assert not Withdrawal.objects.exists()
    assert not SandboxRule.objects.exists()


def test_a_channel_switched_off_sends_nothing_and_the_order_stays_approved(sandbox_live, approved):
    withdrawal = approved()
    Channel.objects.filter(pk=withdrawal.channel_id).update(enabled=False)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "channel_disabled"

    assert latest(withdrawal).status == S.APPROVED
    assert not SandboxPayout.objects.exists()
    services.withdrawal_cancel(withdrawal=withdrawal, actor=withdrawal.user)  # still the user's to cancel
    assert Account.objects.get(owner=withdrawal.user).held == D("0.00")


def test_a_payout_that_cannot_be_built_fails_before_dispatch_and_stays_cancellable(sandbox_live, approved, settings):
    # Given the key that sealed the card was dropped from the key ring before re-sealing
    withdrawal = approved()
    settings.FIELD_ENCRYPTION_KEYS = "dev9:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="

    with pytest.raises(encryption.DecryptionError):
        payouts.payout_send(withdrawal_id=withdrawal.pk)

    # Then nothing was committed as sent: the order is approved, the sandbox saw nothing
    assert latest(withdrawal).status == S.APPROVED
    assert not SandboxPayout.objects.exists()


def test_a_cancel_while_the_order_waits_for_the_rate_wins_and_nothing_is_sent(sandbox_live, approved, monkeypatch):
    withdrawal = approved()

    def cancelled_meanwhile(order: Withdrawal) -> None:
        services.withdrawal_cancel(withdrawal=order, actor=order.user)

    monkeypatch.setattr(payouts, "_rate_token_wait", cancelled_meanwhile)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "not_sendable"

    assert latest(withdrawal).status == S.CANCELLED
    assert not SandboxPayout.objects.exists()
    assert ledger_audit() == []


def test_a_return_is_applied_whole_or_not_at_all(sandbox_live, approved, monkeypatch):
    # Given a dispatched order, and a crash while the return is being recorded
    withdrawal = services.withdrawal_dispatch(withdrawal=approved())
    real_create = notifications.notification_create

    def crash_on_the_return(**kwargs):
        if kwargs["kind"] == UserNotification.Kind.WITHDRAWAL_RETURNED:
            raise RuntimeError("the worker died here")
        return real_create(**kwargs)

    monkeypatch.setattr(services, "notification_create", crash_on_the_return)
    returned = payouts.PayoutResult(state=PayoutState.RETURNED, channel_reference="R1")

    with pytest.raises(RuntimeError):
        payouts.payout_result_apply(withdrawal=withdrawal, result=returned)

    # Then the success rolled back with it: still processing, so the sweep will query it again
    assert latest(withdrawal).status == S.PROCESSING
    assert Account.objects.get(owner=withdrawal.user).held == D("10.00")
    assert withdrawal.pk in payouts.processing_stuck_ids(now=timezone.now() + timedelta(hours=1))
    assert ledger_audit() == []


def test_a_check_the_channel_never_answers_is_not_dead_lettered(sandbox_live, approved, settings):
    withdrawal = services.withdrawal_dispatch(withdrawal=approved())
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # the channel is down
    settings.PAYOUT_RETRY_BASE_SECONDS = 0

    outcome = tasks.withdrawal_check.apply(args=[withdrawal.pk]).get()

    assert outcome == "unanswered"
    assert not DeadLetter.objects.exists()
    assert latest(withdrawal).status == S.PROCESSING
