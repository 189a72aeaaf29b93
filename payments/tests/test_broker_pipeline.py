"""The payout pipeline on each broker Celery may run on (Redis, RabbitMQ), by workers of the
payouts and payments queues only, while another kind's queue is flooded."""

from decimal import Decimal

import pytest

from config import queues
from config.observability.broker import queue_lengths
from payments.notifications.models import UserNotification
from payments.sandbox.models import SandboxPayout
from payments.tests.worker import wait_until
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet.audit import ledger_audit
from wallet.task_queue import task_enqueue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
BROKERS = pytest.mark.parametrize("celery_broker", ["redis", "amqp"], indirect=True)
FLOOD = 100


@pytest.fixture
def approved(make_user, funded_account, submit, risk_rule):
    """``approved(n)``: n approved bank-card withdrawals of 10.00, their tasks enqueued on commit."""

    def make(count: int) -> list[Withdrawal]:
        for code in ("hourly_count", "daily_count", "monthly_count"):
            risk_rule(code, enabled=False)
        user = make_user()
        funded_account(user, str(D("10.00") * count + 100))
        return [submit(user, "10.00") for _ in range(count)]

    return make


def succeeded(withdrawals: list[Withdrawal]) -> bool:
    ids = [withdrawal.pk for withdrawal in withdrawals]
    return Withdrawal.objects.filter(pk__in=ids, status=WithdrawalStatus.SUCCESS).count() == len(ids)


@BROKERS
def test_workers_of_the_payouts_and_payments_queues_pay_once_and_notify_while_exports_are_flooded(
    celery_worker_process, approved
):
    # Given the exports queue flooded, and a worker that reads only the payouts and payments queues
    for _ in range(FLOOD):
        task_enqueue("wallet.export_job_process", 0)
    celery_worker_process.queues = (queues.PAYOUTS, queues.PAYMENTS)
    celery_worker_process.start()

    # When withdrawals are approved (their payouts queued on commit)
    withdrawals = approved(3)

    # Then each is paid once and its user notified, the ledger balanced, and the flood still
    # waits where it was sent, as the scrape reads it
    wait_until(lambda: succeeded(withdrawals), timeout=30, message=celery_worker_process.output())
    orders = [withdrawal.order_no for withdrawal in withdrawals]
    # (a request the loaded live server answers after the 2 s read timeout is asked again: the
    # channel sees it twice and pays it once)
    paid = SandboxPayout.objects.filter(order_no__in=orders).values_list("order_no", flat=True)
    assert sorted(paid) == sorted(orders)
    wait_until(
        lambda: UserNotification.objects.filter(reference__in=orders, sent_at__isnull=False).count() == 3,
        timeout=15,
        message=celery_worker_process.output(),
    )
    assert ledger_audit() == []
    assert queue_lengths([queues.EXPORTS, queues.PAYOUTS]) == {queues.EXPORTS: FLOOD, queues.PAYOUTS: 0}
