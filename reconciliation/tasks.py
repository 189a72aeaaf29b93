"""Celery tasks of reconciliation: thin wrappers around reconciliation.services
(docs/RECONCILIATION.md, "Schedule").

Beat runs ``reconciliation.nightly`` at 02:00 (editable in the admin): one run per enabled
channel and bill kind for yesterday. A bill the channel has not published yet (WeChat's come
around 10:00) is asked for again with a growing delay until the configured hour, then the run
fails with an alert and can be re-run from the admin.
"""

import logging
from datetime import date, datetime, time, timedelta
from functools import partial

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments import metrics
from payments.channels.bills import BillNotReady
from payments.channels.models import Channel
from reconciliation import internal, realtime, services
from reconciliation.models import Run
from wallet import errors
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)

RUN_TASK = "reconciliation.run_download"


@shared_task(name="reconciliation.nightly")
def nightly(bill_date: str | None = None) -> int:
    """Open the run of every enabled channel's bills of ``bill_date`` (ISO; yesterday by
    default, as beat calls it), each downloading on its own; how many were opened."""
    day = date.fromisoformat(bill_date) if bill_date else timezone.localdate() - timedelta(days=1)
    opened = 0
    for channel in Channel.objects.filter(enabled=True).order_by("code"):
        for kind in services.channel_kinds(channel):
            if Run.objects.filter(channel=channel, bill_date=day, kind=kind, status=Run.Status.SUCCEEDED).exists():
                continue
            try:
                with transaction.atomic():
                    run = services.run_open(channel=channel, bill_date=day, kind=kind)
                    transaction.on_commit(partial(task_enqueue, RUN_TASK, run.pk))
            except errors.Conflict:
                continue
            opened += 1
    return opened


@shared_task(bind=True, name=RUN_TASK, max_retries=None)
def run_download(self: Task, run_id: int) -> str:
    """Download and run one bill; not published yet: again later, until the deadline."""
    run = Run.objects.select_related("channel").get(pk=run_id)
    if run.status != Run.Status.WAITING:
        return run.status
    try:
        return services.run_download(run=run).status
    except BillNotReady as exc:
        delay = retry_delay(run.bill_date, retries=self.request.retries, now=timezone.now())
        if delay is not None:
            logger.info("%s: the bill is not published yet; asking again in %s s", run, delay)
            raise self.retry(countdown=delay, exc=exc) from exc
        deadline = bill_deadline(run.bill_date)
        metrics.RECONCILIATION_BILL_MISSING.inc()
        logger.error("%s: the bill was not published by %s", run, deadline)
        return services.run_fail(run=run, error=f"the bill was not published by {deadline:%Y-%m-%d %H:%M}").status


def bill_deadline(bill_date: date) -> datetime:
    """When waiting for the bill of ``bill_date`` stops: the configured hour of the next day."""
    return datetime.combine(
        bill_date + timedelta(days=1),
        time(settings.RECONCILIATION_BILL_DEADLINE_HOUR),
        tzinfo=timezone.get_current_timezone(),
    )


def retry_delay(bill_date: date, *, retries: int, now: datetime) -> int | None:
    """Seconds until the next ask for a bill not published yet (doubling from the first delay,
    capped), or None when the next ask would come after the deadline."""
    delay = min(settings.RECONCILIATION_RETRY_SECONDS * 2**retries, settings.RECONCILIATION_RETRY_MAX_SECONDS)
    return delay if now + timedelta(seconds=delay) <= bill_deadline(bill_date) else None


@shared_task(name="reconciliation.internal_nightly")
def internal_nightly() -> int:
    """02:30: every terminal order's ledger effects and every wallet against its orders."""
    return internal.internal_nightly()


@shared_task(name="reconciliation.order_check")
def order_check(kind: str, pk: int) -> list[str]:
    """An order just became final: its ledger effects and its channel's state, at once."""
    return realtime.order_check(kind=kind, pk=pk)
