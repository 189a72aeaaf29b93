"""Importing a bill file: once per file (by SHA-256), streamed into ``BillLine`` with COPY, and
all or nothing (docs/RECONCILIATION.md, "Importing a bill").

The channel package's parser reads the file line by line in a child process
(reconciliation.bill_rows) while this one streams the rows into psycopg's COPY, so a day of a
million lines never sits in memory and both cores work. A malformed file raises ``BillRefused`` with
the parser's line and reason, and the transaction takes every row of it back; the file is kept
on disk only for an import that committed.
"""

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import connection, transaction

from payments.channels.bills import BillKind
from payments.channels.models import Channel
from reconciliation import bill_rows
from reconciliation.models import BillFile
from wallet import errors

COPY_COLUMNS = (
    "file_id",
    "line_no",
    "kind",
    "order_no",
    "parent_no",
    "channel_reference",
    "amount",
    "fee",
    "status",
    "occurred_at",
)
CHUNK = 1 << 20


class BillRefused(errors.ValidationFailed):
    """The file breaks its channel's format; nothing of it was kept."""

    code = "bill_malformed"

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"The bill is malformed at line {line_no}: {reason}", fields={"file": f"line {line_no}"})
        self.line_no = line_no
        self.reason = reason


@dataclass(frozen=True)
class BillImport:
    file: BillFile
    created: bool  # False when this exact file was imported before
    superseded: BillFile | None  # the file it replaced, if any


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bill_import(
    *,
    channel: Channel,
    bill_date: date,
    kind: BillKind,
    path: Path,
    filename: str,
    source: str,
    user: User | None = None,
) -> BillImport:
    """Import the bill at ``path``: the same file again returns the first import; a different
    file for the same channel, day and kind supersedes the current one."""
    sha256 = file_sha256(path)
    if existing := BillFile.objects.filter(sha256=sha256).first():
        return BillImport(file=existing, created=False, superseded=None)
    with transaction.atomic():
        day_lock(channel, bill_date, kind)
        if existing := BillFile.objects.filter(sha256=sha256).first():
            return BillImport(file=existing, created=False, superseded=None)
        previous = (
            BillFile.objects.select_for_update()
            .filter(channel=channel, bill_date=bill_date, kind=kind, status=BillFile.Status.CURRENT)
            .first()
        )
        if previous is not None:
            previous.status = BillFile.Status.SUPERSEDED
            previous.save(update_fields=["status"])
        bill = BillFile.objects.create(
            channel=channel,
            bill_date=bill_date,
            kind=kind,
            sha256=sha256,
            filename=filename[:255],
            size=path.stat().st_size,
            source=source,
            uploaded_by=user,
            line_count=0,
            amount_total=Decimal("0.00"),
            fee_total=Decimal("0.00"),
        )
        totals = _lines_load(bill, path)
        bill.line_count, bill.amount_total, bill.fee_total = totals.count, totals.amount, totals.fee
        with path.open("rb") as stream:
            bill.file.save(f"{channel.code}-{bill_date}-{kind}-{sha256[:12]}{_suffix(filename)}", File(stream))
        if previous is not None:
            BillFile.objects.filter(pk=previous.pk).update(superseded_by=bill)
    return BillImport(file=bill, created=True, superseded=previous)


@dataclass
class _Totals:
    count: int = 0
    amount: Decimal = Decimal("0.00")
    fee: Decimal = Decimal("0.00")


def _lines_load(bill: BillFile, path: Path) -> _Totals:
    """Parse in a child process (reconciliation.bill_rows) while this one streams its rows into
    COPY: both cores at work, and constant memory on either side."""
    columns = ", ".join(COPY_COLUMNS)
    command = [
        sys.executable,
        "-m",
        "reconciliation.bill_rows",
        bill.channel.adapter,
        bill.kind,
        str(bill.pk),
        str(path),
    ]
    with tempfile.TemporaryFile() as errors_file, connection.cursor() as cursor:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors_file, cwd=settings.BASE_DIR) as child:  # noqa: S603
            assert child.stdout is not None  # noqa: S101 - stdout=PIPE
            with cursor.cursor.copy(f"COPY reconciliation_billline ({columns}) FROM STDIN") as copy:
                while chunk := child.stdout.read(CHUNK):
                    copy.write(chunk)
            code = child.wait()
        # The planner must know the day's lines are there before matching joins them.
        cursor.execute("ANALYZE reconciliation_billline")
        errors_file.seek(0)
        report = _last_json(errors_file.read())
    if code == bill_rows.MALFORMED and "line_no" in report:
        raise BillRefused(report["line_no"], report["reason"])
    if code != 0 or "count" not in report:
        raise RuntimeError(f"the bill parser exited with {code}: {report or 'no report'}")
    return _Totals(count=report["count"], amount=Decimal(report["amount"]), fee=Decimal(report["fee"]))


def _last_json(output: bytes) -> dict:
    lines = output.decode("utf-8", "replace").strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        return {"output": lines[-1][:500]}


def day_lock(channel: Channel, bill_date: date, kind: str) -> None:
    """Imports and runs of one channel, day and kind take turns (transaction-scoped)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"recon:{channel.pk}:{bill_date}:{kind}"])


def _suffix(filename: str) -> str:
    suffixes = "".join(Path(filename).suffixes[-2:])
    return suffixes if suffixes.replace(".", "").isalnum() and len(suffixes) <= 12 else ""
