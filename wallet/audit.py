"""Ledger invariants that the ledger alone can check (docs/ARCHITECTURE.md §8), as set-based SQL.

Used by ``manage.py ledger_audit``, the nightly task and the tests. Each query returns the
offending rows only, so a clean ledger costs a few aggregate scans and no Python loops.

``ledger_audit`` reads the whole ledger and writes nothing. ``ledger_audit_run`` is what the
command and the nightly task call: a full run, or an incremental one that reads only the entries
after the last checkpoint and adds them to the audited running sums (docs/LEDGER.md, "Auditing").
Entries and transfers are append-only (database triggers refuse UPDATE and DELETE), so what a
clean run checked stays checked; the periodic full run re-reads everything anyway.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from wallet.models import AuditCheckpoint

# How long a run waits for the transactions that were writing when it started (see _settle).
SETTLE_SECONDS = 60.0
# work_mem of the full run's transaction, while it sums every account's entries.
AUDIT_WORK_MEM = "64MB"
# The nightly task reads the whole ledger again when the last clean full run is this old.
FULL_AUDIT_EVERY = timedelta(days=7)


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Check:
    """A check's query over the whole ledger and, when it differs, its query over what is new
    since the checkpoint (``%(entry)s`` and ``%(transfer)s``: the checkpoint's ids)."""

    full: str
    template: str
    incremental: str | None = None


CHECKS: dict[str, Check] = {
    "transfer_zero_sum": Check(
        full="""
        SELECT t.id::text, coalesce(sum(e.amount), 0)::text, count(e.id)::text
          FROM wallet_transfer t LEFT JOIN wallet_entry e ON e.transfer_id = t.id
         GROUP BY t.id
        HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2
        """,
        # The transfers with an entry after the checkpoint, and those newer than it.
        incremental="""
        SELECT t.id::text, coalesce(sum(e.amount), 0)::text, count(e.id)::text
          FROM (SELECT transfer_id AS id FROM wallet_entry WHERE id > %(entry)s
                 UNION
                SELECT id FROM wallet_transfer WHERE id > %(transfer)s) t
          LEFT JOIN wallet_entry e ON e.transfer_id = t.id
         GROUP BY t.id
        HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2
        """,
        template="transfer {0}: entries sum to {1} over {2} entries (must be 0 over at least 2)",
    ),
    # Incrementally: the audited sum at the checkpoint plus every entry after it that this
    # statement sees, so the sum and the balance are read in one snapshot, as in the full check.
    "balance_equals_entries": Check(
        full="""
        SELECT a.code, a.balance::text, coalesce(s.total, 0)::text
          FROM wallet_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_entry GROUP BY account_id) s
            ON s.account_id = a.id
         WHERE NOT a.is_hot AND a.balance <> coalesce(s.total, 0)
        """,
        incremental="""
        SELECT a.code, a.balance::text, (coalesce(b.total, 0) + coalesce(n.total, 0))::text
          FROM wallet_account a
          LEFT JOIN wallet_auditedbalance b ON b.account_id = a.id
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_entry
                      WHERE id > %(entry)s GROUP BY account_id) n
            ON n.account_id = a.id
         WHERE NOT a.is_hot AND a.balance <> coalesce(b.total, 0) + coalesce(n.total, 0)
        """,
        template="account {0}: balance {1} but its entries sum to {2}",
    ),
    "held_equals_pending_holds": Check(
        full="""
        SELECT a.code, a.held::text, coalesce(h.total, 0)::text
          FROM wallet_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_hold
                      WHERE status = 'pending' GROUP BY account_id) h
            ON h.account_id = a.id
         WHERE a.held <> coalesce(h.total, 0)
        """,
        template="account {0}: held {1} but pending holds sum to {2}",
    ),
    "available_not_negative": Check(
        full="""
        SELECT a.code, a.balance::text, a.held::text
          FROM wallet_account a
         WHERE NOT a.allow_negative AND a.balance - a.held < 0
        """,
        template="account {0}: balance {1} minus held {2} is negative",
    ),
    "captured_hold_matches_transfer": Check(
        full="""
        SELECT h.id::text, h.amount::text, coalesce(-e.amount, 0)::text
          FROM wallet_hold h
          LEFT JOIN wallet_entry e ON e.transfer_id = h.capture_transfer_id AND e.account_id = h.account_id
         WHERE h.status = 'captured' AND (e.id IS NULL OR -e.amount > h.amount OR e.amount >= 0)
        """,
        incremental="""
        SELECT h.id::text, h.amount::text, coalesce(-e.amount, 0)::text
          FROM wallet_hold h
          LEFT JOIN wallet_entry e ON e.transfer_id = h.capture_transfer_id AND e.account_id = h.account_id
         WHERE h.status = 'captured' AND (e.id IS NULL OR -e.amount > h.amount OR e.amount >= 0)
           AND h.capture_transfer_id IN (SELECT transfer_id FROM wallet_entry WHERE id > %(entry)s)
        """,
        template="hold {0} of {1}: its capture debited {2} from the held account",
    ),
    # Red packet escrow is hot (may go negative): its share rows bound it instead, so it must
    # hold exactly the shares neither paid out nor refunded (docs/WALLET.md).
    "redpacket_escrow_equals_shares": Check(
        full="""
        SELECT 'escrow:redpacket', coalesce(e.total, 0)::text, coalesce(s.total, 0)::text
          FROM (SELECT sum(en.amount) AS total FROM wallet_entry en
                  JOIN wallet_account a ON a.id = en.account_id WHERE a.code = 'escrow:redpacket') e,
               (SELECT sum(amount) AS total FROM wallet_redpacketshare
                 WHERE transfer_id IS NULL AND NOT refunded) s
         WHERE coalesce(e.total, 0) <> coalesce(s.total, 0)
        """,
        incremental="""
        SELECT 'escrow:redpacket', e.total::text, coalesce(s.total, 0)::text
          FROM (SELECT coalesce((SELECT b.total FROM wallet_auditedbalance b
                                   JOIN wallet_account a ON a.id = b.account_id
                                  WHERE a.code = 'escrow:redpacket'), 0)
                     + coalesce((SELECT sum(en.amount) FROM wallet_entry en
                                   JOIN wallet_account a ON a.id = en.account_id
                                  WHERE a.code = 'escrow:redpacket' AND en.id > %(entry)s), 0) AS total) e,
               (SELECT sum(amount) AS total FROM wallet_redpacketshare
                 WHERE transfer_id IS NULL AND NOT refunded) s
         WHERE e.total <> coalesce(s.total, 0)
        """,
        template="account {0}: holds {1} but red packet shares still owe {2}",
    ),
}


@dataclass(frozen=True)
class AuditRun:
    """What ``ledger_audit_run`` did: its violations, whether it read the whole ledger or only
    the entries after ``checked_after``, and the entry id checkpointed now (None: it stayed)."""

    violations: list[Violation]
    full: bool
    checked_after: int
    checkpoint: int | None
    # Transactions (process ids) still writing when the wait ended: they hold the checkpoint back.
    waited_for: list[int]


def ledger_audit(*, on_check: Callable[[int, str], object] | None = None) -> list[Violation]:
    """Every violation of the ledger invariants, reading the whole ledger; an empty list means
    the ledger is sound. Writes nothing. ``on_check`` hears how many checks are done and the last
    one's name: on a large ledger each is a scan of its own (wallet/progress.py)."""
    return _run_checks(None, on_check)


def ledger_audit_run(
    *,
    full: bool,
    on_check: Callable[[int, str], object] | None = None,
    settle_seconds: float | None = None,
) -> AuditRun:
    """Check the ledger and, if it is clean, move the checkpoint to what is now settled.

    Incremental (``full=False``) reads the entries after the checkpoint and the audited sums;
    without a checkpoint yet it runs full. A run that finds a violation leaves the checkpoint
    where it was, so every later run reports it again until it is resolved.
    """
    latest = audit_checkpoint()
    full = full or latest is None
    marks, writers = _marks()
    waited_for = _settle(writers, SETTLE_SECONDS if settle_seconds is None else settle_seconds)
    since = None if full or latest is None else latest
    violations = _run_checks(since, on_check)
    moved = None
    if not violations and not waited_for:
        moved = _checkpoint(since, marks, full=full)
    return AuditRun(
        violations=violations,
        full=full,
        checked_after=0 if since is None else since.entry_id,
        checkpoint=moved,
        waited_for=waited_for,
    )


def audit_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-id").first()


def audit_full_due() -> bool:
    """True when no clean full run happened within ``FULL_AUDIT_EVERY``."""
    last_full = AuditCheckpoint.objects.filter(full=True).order_by("-id").first()
    return last_full is None or timezone.now() - last_full.created_at >= FULL_AUDIT_EVERY


def _run_checks(since: AuditCheckpoint | None, on_check: Callable[[int, str], object] | None) -> list[Violation]:
    params = None if since is None else {"entry": since.entry_id, "transfer": since.transfer_id}
    violations: list[Violation] = []
    with connection.cursor() as cursor:
        for done, (name, check) in enumerate(CHECKS.items(), start=1):
            if params is None:
                cursor.execute(check.full)
            else:
                cursor.execute(check.incremental or check.full, params)
            for row in cursor.fetchall():
                violations.append(Violation(check=name, subject=row[0], detail=check.template.format(*row)))
            if on_check is not None:
                on_check(done, name)
    return violations


@dataclass(frozen=True)
class _Marks:
    entry_id: int
    transfer_id: int
    horizon: datetime


def _marks() -> tuple[_Marks, list[tuple[int, str]]]:
    """The highest transfer and entry ids handed out so far, then the transactions of this
    database that hold a transaction id (that is, have written something), then the horizon
    (``_HORIZON``) that hot balances read from.

    Ids come from sequences, outside any transaction, so a transaction can commit entry 100 after
    another committed entry 101: a checkpoint at 101 would skip 100 forever. In that order of
    reading, any transaction that took an entry id up to the mark already had its transaction id
    (the posting functions insert the transfer before its entries), so it is in the list, and
    once every listed transaction has ended, every entry up to the mark is committed or gone.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('wallet_transfer', 'id')), 0)")
        transfer_id = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('wallet_entry', 'id')), 0)")
        entry_id = cursor.fetchone()[0]
        cursor.execute(_WRITERS)
        writers = [(pid, xid) for pid, xid in cursor.fetchall()]
        cursor.execute(_HORIZON)
        horizon = cursor.fetchone()[0]
    return _Marks(entry_id=entry_id, transfer_id=transfer_id, horizon=horizon), writers


# pg_stat_clear_snapshot: inside a transaction PostgreSQL would otherwise answer from the activity
# it read first. Needs the application's own role (or pg_read_all_stats) to see backend_xid.
_WRITERS = """
    SELECT pid, backend_xid::text FROM pg_stat_activity, pg_stat_clear_snapshot()
     WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
"""


# An entry takes its transaction's start time (now()), so no entry after the marks can be older
# than the oldest transaction open in this database now, this one included.
_HORIZON = """
    SELECT least(now(), min(xact_start)) FROM pg_stat_activity, pg_stat_clear_snapshot()
     WHERE datname = current_database()
"""


def _settle(writers: list[tuple[int, str]], seconds: float) -> list[int]:
    """Wait up to ``seconds`` for the listed transactions to end; the pids still running."""
    deadline = time.monotonic() + seconds
    waiting = set(writers)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_WRITERS)
            waiting &= {(pid, xid) for pid, xid in cursor.fetchall()}
        if not waiting or time.monotonic() >= deadline:
            return sorted(pid for pid, _ in waiting)
        time.sleep(0.05)


def _checkpoint(since: AuditCheckpoint | None, marks: _Marks, *, full: bool) -> int | None:
    """Add the settled entries up to the marks to the audited sums and record the checkpoint;
    None when another run moved it meanwhile (its sums already hold those entries)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE wallet_auditcheckpoint IN EXCLUSIVE MODE")
        latest = audit_checkpoint()
        if full:
            # Enough memory to sum 100k accounts in one hash: with the default 4 MB the planner
            # walks the statement index instead (an INSERT gets no parallel workers), and at
            # 10M entries the sums took 119 s against 31 s.
            cursor.execute(f"SET LOCAL work_mem = '{AUDIT_WORK_MEM}'")
            cursor.execute("DELETE FROM wallet_auditedbalance")
            cursor.execute(
                # FILTER, not WHERE: a WHERE on the id makes the planner walk the primary key.
                """INSERT INTO wallet_auditedbalance (account_id, total)
                   SELECT account_id, coalesce(sum(amount) FILTER (WHERE id <= %s), 0)
                     FROM wallet_entry GROUP BY account_id""",
                [marks.entry_id],
            )
        elif since is None or latest is None or latest.pk != since.pk:
            return None
        else:
            cursor.execute(
                """INSERT INTO wallet_auditedbalance AS b (account_id, total)
                   SELECT account_id, sum(amount) FROM wallet_entry WHERE id > %s AND id <= %s GROUP BY account_id
                   ON CONFLICT (account_id) DO UPDATE SET total = b.total + EXCLUDED.total""",
                [since.entry_id, marks.entry_id],
            )
        AuditCheckpoint.objects.create(
            entry_id=marks.entry_id,
            transfer_id=marks.transfer_id,
            horizon=marks.horizon,
            full=full,
            created_at=timezone.now(),
        )
    return marks.entry_id
