"""Every write of reconciliation: runs of a channel's bill, and the finance desk's work on
discrepancies (docs/RECONCILIATION.md).

A run imports its bill (reconciliation.bills), matches it in SQL (reconciliation.matching),
books its fees and checks the clearing account (reconciliation.fees), all in one transaction:
a run that fails leaves nothing half done. Two runs of one channel, day and kind never overlap
(a partial unique constraint and an advisory lock). Money moves only through wallet.services
and the orders' own services.
"""

import logging
import tempfile
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from payments.channels import registry
from payments.channels.bills import BillKind, BillNotReady
from payments.channels.models import Channel
from reconciliation import bills, fees, matching
from reconciliation.models import BillFile, Discrepancy, PoolItem, Run
from wallet import errors

logger = logging.getLogger(__name__)


def channel_kinds(channel: Channel) -> list[BillKind]:
    """The bills a channel has: trade when it collects, payout when it pays out."""
    kinds = []
    if channel.payment_methods:
        kinds.append(BillKind.TRADE)
    if channel.payout_account_kind:
        kinds.append(BillKind.PAYOUT)
    return kinds


def run_open(*, channel: Channel, bill_date: date, kind: BillKind, user: User | None = None) -> Run:
    """A new run of the channel's bill of ``bill_date``; ``Conflict`` while another is active."""
    try:
        with transaction.atomic():
            return Run.objects.create(
                channel=channel, bill_date=bill_date, kind=kind, status=Run.Status.WAITING, started_by=user
            )
    except IntegrityError as exc:
        raise errors.Conflict(
            f"A reconciliation of {channel.code} {kind} for {bill_date} is already running.",
            fields={"bill_date": "running"},
        ) from exc


def run_download(*, run: Run) -> Run:
    """Fetch the run's bill from its channel and run it. ``BillNotReady`` (the run keeps
    waiting) when the channel has not published it; any other channel error fails the run."""
    channel = run.channel
    with tempfile.TemporaryDirectory(prefix="bill-") as directory:
        try:
            adapter = registry.adapter_for(channel)
            download = adapter.bill_download(run.bill_date, BillKind(run.kind), Path(directory))  # type: ignore[attr-defined]
        except BillNotReady:
            raise
        except Exception as exc:
            return run_fail(run=run, error=f"download: {exc}")
        try:
            imported = bills.bill_import(
                channel=channel,
                bill_date=run.bill_date,
                kind=BillKind(run.kind),
                path=download.path,
                filename=download.filename,
                source=BillFile.Source.DOWNLOAD,
            )
        except bills.BillRefused as exc:
            return run_fail(run=run, error=str(exc.message))
    return run_bill(run=run, bill=imported.file)


def bill_upload(*, channel: Channel, bill_date: date, kind: BillKind, path: Path, filename: str, user: User) -> Run:
    """Staff upload a bill (the channel's file as downloaded from its merchant portal): it is
    imported like a downloaded one and run at once. ``BillRefused`` when malformed."""
    imported = bills.bill_import(
        channel=channel,
        bill_date=bill_date,
        kind=kind,
        path=path,
        filename=filename,
        source=BillFile.Source.UPLOAD,
        user=user,
    )
    if not imported.created:
        latest = Run.objects.filter(file=imported.file).order_by("-pk").first()
        if latest is not None:
            return latest
    return run_bill(run=run_open(channel=channel, bill_date=bill_date, kind=kind, user=user), bill=imported.file)


def run_bill(*, run: Run, bill: BillFile) -> Run:
    """Match ``bill``, book its fees and check the clearing account, as one transaction. Runs of
    a file that ``bill`` superseded are redone by this one: their open discrepancies and waiting
    pool items give way to this run's, the ones already worked on stay."""
    started = timezone.now()
    try:
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=run.pk)
            bills.day_lock(run.channel, run.bill_date, run.kind)
            _work_mem_raise()
            _superseded_runs_undo(run, bill)
            counts = matching.match(run, bill)
            run.fees_booked = fees.fees_book(bill)
            _counts_store(run, bill, counts)
            check = fees.clearing_check(run.channel, *_billed_window(run.channel))
            run.clearing_balance, run.clearing_expected = check.balance, check.expected
            run.clearing_difference = check.difference
            run.status = Run.Status.SUCCEEDED
            run.started_at, run.finished_at = started, timezone.now()
            run.save()
    except Exception as exc:
        logger.exception("reconciliation %s failed", run)
        return run_fail(run=run, error=str(exc) or exc.__class__.__name__)
    if run.clearing_difference:
        logger.warning("reconciliation %s: clearing differs from the bills by %s", run, run.clearing_difference)
    return run


def run_fail(*, run: Run, error: str) -> Run:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED, error=error[:5000], finished_at=timezone.now())
    run.refresh_from_db()
    return run


def run_rerun(*, run: Run, user: User | None = None) -> Run:
    """A failed run again: its current bill if it has one, else a new download."""
    if run.status != Run.Status.FAILED:
        raise errors.Conflict(f"Only a failed run can be re-run; this one is {run.status}.")
    fresh = run_open(channel=run.channel, bill_date=run.bill_date, kind=BillKind(run.kind), user=user)
    bill = BillFile.objects.filter(
        channel=run.channel, bill_date=run.bill_date, kind=run.kind, status=BillFile.Status.CURRENT
    ).first()
    if bill is not None:
        return run_bill(run=fresh, bill=bill)
    try:
        return run_download(run=fresh)
    except BillNotReady as exc:
        return run_fail(run=fresh, error=f"the bill is not published yet: {exc}")


def _superseded_runs_undo(run: Run, bill: BillFile) -> None:
    earlier = Run.objects.filter(
        channel=run.channel, bill_date=run.bill_date, kind=run.kind, status=Run.Status.SUCCEEDED
    ).exclude(file=bill)
    if not earlier.exists():
        return
    ids = list(earlier.values_list("pk", flat=True))
    Discrepancy.objects.filter(run_id__in=ids, status=Discrepancy.Status.OPEN, proposed_action="").delete()
    PoolItem.objects.filter(run_id__in=ids, status=PoolItem.Status.WAITING).delete()
    PoolItem.objects.filter(settled_by_id__in=ids).update(status=PoolItem.Status.WAITING, settled_by=None)
    earlier.update(status=Run.Status.SUPERSEDED)


def _counts_store(run: Run, bill: BillFile, counts: matching.Counts) -> None:
    found = counts.by_outcome
    run.file = bill
    run.bill_lines, run.bill_amount = bill.line_count, bill.amount_total
    run.local_records, run.local_amount = counts.local_records, counts.local_amount
    run.matched, run.pooled, run.pool_settled = counts.matched, counts.pooled, counts.pool_settled
    for outcome in matching.DISCREPANCY_OUTCOMES:
        setattr(run, str(outcome), found.get(str(outcome), 0))


def _work_mem_raise() -> None:
    """Matching sorts and hashes a day of orders at once: memory for it in this transaction only,
    so a million rows do not spill to disk (docs/PERFORMANCE.md)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.RECONCILIATION_WORK_MEM])


def _billed_window(channel: Channel):
    days = BillFile.objects.filter(channel=channel, status=BillFile.Status.CURRENT).aggregate(
        first=Min("bill_date"), last=Max("bill_date")
    )
    return matching.Window.of(days["first"]).start, matching.Window.of(days["last"]).end
