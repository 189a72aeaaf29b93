"""The nightly schedule: declared for beat at 02:00, one run per enabled channel and bill, a bill
not published yet asked for again until the deadline, and the whole night through a real beat
and worker (docs/RECONCILIATION.md, "Schedule")."""

import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.tests.metrics import metric
from payments.channels.bills import BillKind
from payments.channels.models import Channel
from payments.orders import services as payment_orders
from payments.sandbox.bill_rules import bill_rule_add
from payments.tests.worker import BASE_DIR, wait_until
from reconciliation import services, tasks
from reconciliation.models import Run

CHINA = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 6)


@pytest.mark.django_db
def test_the_nightly_reconciliation_is_installed_for_beat_at_two_in_the_morning():
    task = PeriodicTask.objects.get(task="reconciliation.nightly")

    assert (task.enabled, task.crontab.hour, task.crontab.minute) == (True, "2", "0")
    assert str(task.crontab.timezone) == "Asia/Shanghai"


@pytest.mark.django_db
def test_the_night_opens_one_run_per_enabled_channel_and_bill_and_queues_each_once(
    sent_tasks, django_capture_on_commit_callbacks
):
    # Given the seeded channels, WeChat v2 ones switched off
    with django_capture_on_commit_callbacks(execute=True):
        opened = tasks.nightly()

    yesterday = timezone.localdate() - timedelta(days=1)
    runs = set(Run.objects.values_list("channel__code", "kind", "bill_date", "status"))
    assert runs == {
        ("wechat", "payout", yesterday, "waiting"),
        ("wechat_pay", "trade", yesterday, "waiting"),
        ("alipay", "trade", yesterday, "waiting"),
        ("bank", "payout", yesterday, "waiting"),
        ("alipay_transfer", "payout", yesterday, "waiting"),
    }
    assert opened == 5
    assert sorted(task["args"][0] for task in sent_tasks.named(tasks.RUN_TASK)) == sorted(
        Run.objects.values_list("pk", flat=True)
    )

    # When beat fires again (a second beat, a retry): nothing more is opened or queued
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.nightly() == 0
    assert Run.objects.count() == 5
    assert len(sent_tasks.named(tasks.RUN_TASK)) == 5


def test_a_bill_not_published_is_asked_for_again_at_growing_delays_until_the_deadline(settings):
    settings.RECONCILIATION_RETRY_SECONDS = 900
    settings.RECONCILIATION_RETRY_MAX_SECONDS = 3600
    settings.RECONCILIATION_BILL_DEADLINE_HOUR = 14
    at = datetime(2026, 12, 7, 2, 0, tzinfo=CHINA)

    delays = [tasks.retry_delay(DAY, retries=retries, now=at) for retries in range(4)]

    assert delays == [900, 1800, 3600, 3600]
    assert tasks.retry_delay(DAY, retries=0, now=datetime(2026, 12, 7, 13, 45, tzinfo=CHINA)) == 900
    assert tasks.retry_delay(DAY, retries=0, now=datetime(2026, 12, 7, 13, 46, tzinfo=CHINA)) is None


@pytest.mark.django_db(transaction=True)
def test_past_the_deadline_the_run_fails_with_an_alert(sandbox_live, settings):
    # Given yesterday's bill, not published, and the deadline passed
    settings.RECONCILIATION_BILL_DEADLINE_HOUR = 0
    yesterday = timezone.localdate() - timedelta(days=1)
    bill_rule_add(protocol="wechat_v3", bill_kind="trade", bill_date=yesterday, difference="not_ready")
    run = services.run_open(channel=Channel.objects.get(code="wechat_pay"), bill_date=yesterday, kind=BillKind.TRADE)
    alerts = metric("wallet_reconciliation_bill_missing_total")

    # When the run's task asks for it
    tasks.run_download.apply(args=[run.pk])

    # Then the run failed, saying why, and the alert counter went up
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "not published" in run.error
    assert metric("wallet_reconciliation_bill_missing_total") == alerts + 1


@pytest.mark.django_db(transaction=True)
def test_the_night_runs_through_a_real_beat_and_worker(celery_worker_process, tmp_path, alice):
    # Given a payment paid today through the sandbox, and beat told to run the night every second
    order = payment_orders.payment_order_create(
        user=alice,
        business_type="recharge",
        method="wechat_native",
        amount=Decimal("66.60"),
        client_type="web",
        idempotency_key="beat-1",
    ).order
    assert payment_orders.payment_order_sync(order=order).status == "success"
    PeriodicTask.objects.exclude(task="reconciliation.nightly").update(enabled=False)
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="reconciliation.nightly").update(
        crontab=None, interval=every_second, kwargs=f'{{"bill_date": "{timezone.localdate()}"}}'
    )
    worker = celery_worker_process.start()

    # When beat runs
    log = tmp_path / "beat.log"
    beat = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--logfile", str(log),
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=BASE_DIR,
        env=worker.env,
    )  # fmt: skip
    try:
        # Then every enabled channel's bill of today is downloaded and run, the payment matched
        wait_until(
            lambda: Run.objects.filter(status=Run.Status.SUCCEEDED).count() == 5,
            timeout=60,
            message=f"{list(Run.objects.values_list('channel__code', 'status', 'error'))}\n"
            f"{log.read_text() if log.exists() else ''}\n{worker.output()}",
        )
    finally:
        beat.terminate()
        beat.wait(20)
    trade = Run.objects.get(channel__code="wechat_pay")
    assert (trade.matched, trade.local_only, trade.channel_only) == (1, 0, 0)
    # And the Alipay transfers' run read Alipay's account bill (signcustomer), empty today
    transfers = Run.objects.get(channel__code="alipay_transfer")
    assert (transfers.kind, transfers.status, transfers.matched) == ("payout", Run.Status.SUCCEEDED, 0)


@pytest.mark.django_db
def test_the_internal_reconciliation_is_installed_for_beat_at_half_past_two():
    task = PeriodicTask.objects.get(task="reconciliation.internal_nightly")

    assert (task.enabled, task.crontab.hour, task.crontab.minute) == (True, "2", "30")
