"""The payout pipeline end to end: a real Celery worker, the sandbox over real HTTP on the live
server, real Redis and PostgreSQL. Orders must reach the channel exactly once and end final."""

import json
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.db.models import Count
from django.db.models.functions import TruncSecond
from django.utils import timezone

from payments.channels.models import Channel
from payments.dead_letters.models import DeadLetter
from payments.notifications.models import UserNotification
from payments.sandbox import engine
from payments.sandbox.models import SandboxHit, SandboxPayout, Scenario
from payments.tests.worker import wait_until
from payments.withdrawals import payouts, services, tasks
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.tests.threads import run_in_threads

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
S = WithdrawalStatus


@pytest.fixture
def approved(make_user, funded_account, submit, risk_rule):
    """``approved(n)``: n approved bank-card withdrawals of 10.00, their tasks enqueued on commit."""

    def make(count: int = 1, amount: str = "10.00") -> list[Withdrawal]:
        for code in ("hourly_count", "daily_count", "monthly_count"):
            risk_rule(code, enabled=False)
        user = make_user()
        funded_account(user, str(D(amount) * count + 100))
        return [submit(user, amount) for _ in range(count)]

    return make


def statuses(withdrawals) -> Counter:
    return Counter(Withdrawal.objects.filter(pk__in=[w.pk for w in withdrawals]).values_list("status", flat=True))


def final(withdrawal: Withdrawal) -> Withdrawal:
    return Withdrawal.objects.get(pk=withdrawal.pk)


def test_an_approved_withdrawal_is_paid_once_and_the_ledger_captures_it(celery_worker_process, approved):
    # Given a worker and the sandbox paying at once
    celery_worker_process.start()

    # When a withdrawal is approved
    (withdrawal,) = approved(1)

    # Then it ends success, paid once, the hold captured to clearing and fees, the user notified
    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=celery_worker_process.output())
    payout = SandboxPayout.objects.get(order_no=withdrawal.order_no)
    assert (payout.protocol, payout.amount, payout.requests) == ("bank", D("9.90"), 1)
    assert final(withdrawal).channel_reference == payout.channel_reference
    wallet = Account.objects.get(owner=withdrawal.user)
    assert wallet.held == D("0.00")
    wait_until(
        lambda: UserNotification.objects.filter(reference=withdrawal.order_no, sent_at__isnull=False).exists(),
        timeout=10,
    )
    assert ledger_audit() == []


def test_the_worker_dying_after_the_channel_paid_is_finished_by_the_sweep_with_one_payout(
    celery_worker_process, approved
):
    # Given a channel that pays at once but answers only after 5 s
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.SLOW, delay_seconds=5)
    (withdrawal,) = approved(1)

    # When the worker is killed after the channel took the payout, before the answer came back
    wait_until(lambda: SandboxPayout.objects.filter(order_no=withdrawal.order_no).exists(), timeout=20)
    worker.kill()
    assert final(withdrawal).status == S.PROCESSING

    # And ten minutes later the processing sweep runs on a new worker
    Withdrawal.objects.filter(pk=withdrawal.pk).update(dispatched_at=timezone.now() - timedelta(minutes=11))
    engine.rule_add(protocol="bank", scenario=Scenario.SUCCEED)
    worker.start()
    tasks.sweep_processing.delay()

    # Then the order is success and the channel saw exactly one payout request
    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    payout = SandboxPayout.objects.get(order_no=withdrawal.order_no)
    assert payout.requests == 1
    assert SandboxHit.objects.filter(order_no=withdrawal.order_no).count() == 1
    assert ledger_audit() == []


def test_the_same_task_delivered_five_times_pays_once(celery_worker_process, approved):
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.SLOW, delay_seconds=1)
    (withdrawal,) = approved(1)

    for _ in range(4):
        tasks.withdrawal_dispatch.delay(withdrawal.pk)

    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1
    assert ledger_audit() == []


def test_two_senders_racing_on_one_order_send_it_once(sandbox_live, approved):
    # Given an order the channel answers slowly, and no worker: the test's threads are the senders
    engine.rule_add(protocol="bank", scenario=Scenario.SLOW, delay_seconds=1)
    (withdrawal,) = approved(1)

    # When eight threads send it at once
    outcomes = run_in_threads(8, lambda i: payouts.payout_send(withdrawal_id=withdrawal.pk))

    # Then one sent it, the others found it locked or already final
    assert outcomes[str(WithdrawalStatus.SUCCESS)] == 1
    assert set(outcomes) <= {"success", "busy", "not_sendable"}
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1


def test_5xx_answers_are_retried_then_dead_lettered_and_the_sweep_still_converges(celery_worker_process, approved):
    # Given a channel answering 500 to the first four requests (the send and its three retries)
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.SERVER_ERROR, remaining=4)
    (withdrawal,) = approved(1)

    # Then after the retries a dead letter is recorded and the order stays processing, not failed
    wait_until(lambda: DeadLetter.objects.filter(withdrawal=withdrawal).exists(), timeout=30, message=worker.output())
    letter = DeadLetter.objects.get(withdrawal=withdrawal)
    assert (letter.task, letter.attempts) == ("payments.withdrawal_dispatch", 4)
    assert final(withdrawal).status == S.PROCESSING
    assert SandboxHit.objects.filter(order_no=withdrawal.order_no).count() == 4
    assert not SandboxPayout.objects.exists()

    # When the sweep finds it processing for ten minutes, the channel does not know it: sent again
    Withdrawal.objects.filter(pk=withdrawal.pk).update(dispatched_at=timezone.now() - timedelta(minutes=11))
    tasks.sweep_processing.delay()

    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1
    assert ledger_audit() == []


def test_timeouts_leave_the_order_processing_until_a_query_says_it_was_paid(celery_worker_process, approved):
    # Given a channel that pays and then loses its answer
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.DROP_RESPONSE, remaining=1)
    (withdrawal,) = approved(1)

    # Then the retries of the unknown outcome get the first result back, never a second payout
    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests >= 2
    assert SandboxPayout.objects.count() == 1
    assert ledger_audit() == []


def test_a_definite_failure_releases_the_hold_and_notifies_the_user(celery_worker_process, approved):
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.FAIL, failure_code="CARD_INVALID")
    (withdrawal,) = approved(1)

    wait_until(lambda: final(withdrawal).status == S.FAILED, timeout=30, message=worker.output())
    assert final(withdrawal).failure_code == "CARD_INVALID"
    assert Account.objects.get(owner=withdrawal.user).held == D("0.00")
    assert UserNotification.objects.filter(reference=withdrawal.order_no, kind="withdrawal_failed").exists()
    assert ledger_audit() == []


def test_a_bank_return_after_success_refunds_the_whole_amount(celery_worker_process, approved):
    # Given a payout that the payee's bank returns after it was paid
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.RETURN, delay_seconds=1)
    (withdrawal,) = approved(1)

    # Then the order goes success, then refunded by the bank's callback, the money back
    wait_until(lambda: final(withdrawal).status == S.REFUNDED, timeout=30, message=worker.output())
    wallet = Account.objects.get(owner=withdrawal.user)
    assert (wallet.balance, wallet.held) == (D("110.00"), D("0.00"))
    assert ledger_audit() == []


def test_accepted_payouts_finish_by_the_channels_notify(celery_worker_process, approved):
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.PROCESS, delay_seconds=1)
    (withdrawal,) = approved(1)

    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    assert SandboxPayout.objects.get(order_no=withdrawal.order_no).requests == 1


def test_duplicate_notifies_capture_once(celery_worker_process, approved):
    worker = celery_worker_process.start()
    engine.rule_add(protocol="bank", scenario=Scenario.DUPLICATE_NOTIFY)
    (withdrawal,) = approved(1)

    wait_until(lambda: final(withdrawal).status == S.SUCCESS, timeout=30, message=worker.output())
    wait_until(lambda: UserNotification.objects.filter(reference=withdrawal.order_no).count() == 1, timeout=10)
    assert ledger_audit() == []


def test_a_forged_notify_changes_nothing(sandbox_live, approved):
    # Given a processing withdrawal, whose channel has not answered yet
    (withdrawal,) = approved(1)
    services.withdrawal_dispatch(withdrawal=withdrawal)

    # When someone posts a success callback signed with a key of their own
    forged = {
        "merchant_id": "M1",
        "order_no": withdrawal.order_no,
        "payout_id": "X1",
        "status": "SUCCESS",
        "amount": "9.90",
        "timestamp": str(int(timezone.now().timestamp())),
        "nonce": "n",
        "sign": "Zm9yZ2Vk",
    }
    response = requests.post(f"{sandbox_live.url}/api/v1/notify/bank/", data=json.dumps(forged), timeout=10)

    # Then the answer is the protocol's failure and the order is untouched
    assert response.status_code >= 400
    assert final(withdrawal).status == S.PROCESSING
    assert not UserNotification.objects.exists()


def test_a_thousand_withdrawals_at_fifty_a_second_never_exceed_the_channels_rate(celery_worker_process, approved):
    # Given the bank channel limited to 50 payouts a second and a worker with 4 processes
    Channel.objects.filter(code="bank").update(rate_limit_per_second=50)
    worker = celery_worker_process.start()

    # When 1,000 withdrawals are approved
    withdrawals = approved(1000, "1.00")

    # Then every one ends success, paid once, and no second of the sandbox saw more than 55
    wait_until(
        lambda: Withdrawal.objects.filter(status=S.SUCCESS).count() == 1000,
        timeout=240,
        interval=1,
        message=f"{statuses(withdrawals)}\n{worker.output()[-3000:]}",
    )
    per_second = SandboxHit.objects.annotate(second=TruncSecond("received_at")).values("second").annotate(n=Count("id"))
    busiest = max(row["n"] for row in per_second)
    assert busiest <= 55, busiest
    assert SandboxPayout.objects.count() == 1000
    assert set(SandboxPayout.objects.values_list("requests", flat=True)) == {1}
    assert ledger_audit() == []
