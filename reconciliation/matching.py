"""Set-based matching of one bill against our orders (docs/RECONCILIATION.md, "Matching").

Everything happens in PostgreSQL, inside the run's transaction, on temporary tables:

1. ``recon_channel``: the bill's lines, one row per order (a duplicate line adds up, a returned
   payout shows as ``returned``);
2. ``recon_local``: our side, the orders of the channel that reached their final money state
   during the day (not already matched by another day's bill), plus every order the bill names,
   whatever its day and state, found by its unique number;
3. ``recon_result``: the full outer join of both, one outcome per order.

Then the cross-day pool is settled and refilled, and the discrepancies are inserted, each by
one INSERT ... SELECT. No day of orders is ever loaded into Python.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from payments.channels.bills import BillKind
from reconciliation.models import BillFile, Outcome, Run
from wallet.dates import local_midnight

DISCREPANCY_OUTCOMES = (
    Outcome.LOCAL_ONLY,
    Outcome.CHANNEL_ONLY,
    Outcome.AMOUNT_MISMATCH,
    Outcome.STATUS_MISMATCH,
    Outcome.FEE_MISMATCH,
)
POOL_LOCAL = "pool_local"
POOL_CHANNEL = "pool_channel"
MATCHED = "matched"

# Our states as the channel words them (payments.channels.bills.LineStatus).
PAYMENT_STATUS = (
    "CASE p.status WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failed' WHEN 'closed' THEN 'failed' "
    "ELSE 'processing' END"
)
REFUND_STATUS = "CASE r.status WHEN 'success' THEN 'success' WHEN 'failed' THEN 'failed' ELSE 'processing' END"
WITHDRAWAL_STATUS = (
    "CASE w.status WHEN 'success' THEN 'success' WHEN 'refunded' THEN 'returned' "
    "WHEN 'failed' THEN 'failed' WHEN 'rejected' THEN 'failed' WHEN 'cancelled' THEN 'failed' "
    "ELSE 'processing' END"
)
# A withdrawal's fee is charged only when its money left: one that failed (or never went) took
# none, as the channel's bill of a failed payout says.
WITHDRAWAL_FEE = "CASE WHEN w.status IN ('success', 'refunded') THEN w.fee ELSE 0 END"
# The fee a channel gives back on a refund: the payment's, in proportion.
REFUND_FEE = "-round(p.fee * r.amount / p.amount, 2)"

CHANNEL_SIDE = """
CREATE TEMP TABLE recon_channel ON COMMIT DROP AS
SELECT kind, order_no,
       count(*) AS lines,
       coalesce(sum(amount) FILTER (WHERE status = 'success'), max(amount)) AS amount,
       sum(fee) AS fee,
       CASE WHEN bool_or(status = 'returned') THEN 'returned'
            WHEN bool_or(status = 'success') THEN 'success'
            WHEN bool_or(status = 'processing') THEN 'processing'
            ELSE 'failed' END AS status,
       max(occurred_at) AS occurred_at
  FROM reconciliation_billline
 WHERE file_id = %(file)s
 GROUP BY kind, order_no
"""

# One SELECT per kind of local record: (kind, order_no, amount, fee, status, at).
LOCAL_ROWS = {
    "payment": f"""
        SELECT 'payment'::text AS kind, p.order_no::text, p.amount, p.fee, {PAYMENT_STATUS} AS status,
               p.paid_at AS at
          FROM payments_paymentorder p""",
    "refund": f"""
        SELECT 'refund'::text AS kind, r.refund_no::text AS order_no, r.amount, {REFUND_FEE} AS fee,
               {REFUND_STATUS} AS status, r.finished_at AS at
          FROM payments_refund r JOIN payments_paymentorder p ON p.id = r.payment_order_id""",
    "payout": f"""
        SELECT 'payout'::text AS kind, w.order_no::text, w.actual_amount AS amount, {WITHDRAWAL_FEE} AS fee,
               {WITHDRAWAL_STATUS} AS status, w.finished_at AS at
          FROM payments_withdrawal w""",
}
# Which of them settled money during the day (their bill day is the day of these instants).
DAY_FILTERS = {
    "payment": "p.channel_id = %(channel)s AND p.status = 'success' AND p.paid_at >= %(start)s AND p.paid_at < %(end)s",
    "refund": (
        "p.channel_id = %(channel)s AND r.status = 'success' AND r.finished_at >= %(start)s AND r.finished_at < %(end)s"
    ),
    "payout": (
        "w.channel_id = %(channel)s AND w.status IN ('success', 'refunded') "
        "AND w.finished_at >= %(start)s AND w.finished_at < %(end)s"
    ),
}
NAMED_FILTERS = {
    "payment": "p.channel_id = %(channel)s AND p.order_no = c.order_no",
    "refund": "p.channel_id = %(channel)s AND r.refund_no = c.order_no",
    "payout": "w.channel_id = %(channel)s AND w.order_no = c.order_no",
}
NUMBERS = {"payment": "p.order_no", "refund": "r.refund_no", "payout": "w.order_no"}
KINDS = {BillKind.TRADE: ("payment", "refund"), BillKind.PAYOUT: ("payout",)}
# An order one of the channel's other current bills has: another day's run settled it.
IN_ANOTHER_BILL = """
EXISTS (SELECT 1 FROM reconciliation_billline bl
         WHERE bl.kind = {row}.kind AND bl.order_no = {row}.order_no AND bl.file_id = ANY(%(others)s))
"""

RESULT = f"""
CREATE TEMP TABLE recon_result ON COMMIT DROP AS
SELECT coalesce(c.kind, l.kind) AS kind, coalesce(c.order_no, l.order_no) AS order_no,
       l.amount AS local_amount, c.amount AS channel_amount, l.fee AS local_fee, c.fee AS channel_fee,
       coalesce(l.status, '') AS local_status, coalesce(c.status, '') AS channel_status,
       CASE
         WHEN c.order_no IS NULL THEN
              CASE WHEN l.at >= %(pool_from)s THEN '{POOL_LOCAL}' ELSE '{Outcome.LOCAL_ONLY}' END
         WHEN l.order_no IS NULL THEN '{Outcome.CHANNEL_ONLY}'
         WHEN l.status <> c.status THEN
              CASE WHEN l.status = 'processing' AND c.occurred_at >= %(pool_from)s
                   THEN '{POOL_CHANNEL}' ELSE '{Outcome.STATUS_MISMATCH}' END
         WHEN l.amount <> c.amount THEN '{Outcome.AMOUNT_MISMATCH}'
         WHEN c.fee IS NOT NULL AND c.fee <> l.fee THEN '{Outcome.FEE_MISMATCH}'
         ELSE '{MATCHED}'
       END AS outcome
  FROM recon_channel c FULL OUTER JOIN recon_local l ON l.kind = c.kind AND l.order_no = c.order_no
"""

# The waiting items due by this day: settled when this bill (or our books, for the channel's
# items) now has the other side.
POOL_SETTLE = """
UPDATE reconciliation_poolitem i SET status = 'settled', settled_by_id = %(run)s
 WHERE i.channel_id = %(channel)s AND i.kind = %(kind)s AND i.status = 'waiting' AND i.due_date <= %(day)s
   AND i.run_id <> %(run)s
   AND CASE WHEN i.side = 'local'
            THEN EXISTS (SELECT 1 FROM recon_channel c WHERE c.kind = i.object_kind AND c.order_no = i.order_no)
            ELSE EXISTS (SELECT 1 FROM recon_pool_local l
                          WHERE l.kind = i.object_kind AND l.order_no = i.order_no AND l.status = i.expected_status)
       END
"""
POOL_EXPIRE = """
WITH expired AS (
    UPDATE reconciliation_poolitem i SET status = 'expired'
     WHERE i.channel_id = %(channel)s AND i.kind = %(kind)s AND i.status = 'waiting' AND i.due_date <= %(day)s
       AND i.run_id <> %(run)s
 RETURNING i.*
)
INSERT INTO reconciliation_discrepancy
       (kind, channel_id, run_id, bill_date, object_kind, order_no, local_amount, channel_amount,
        local_status, channel_status, local_fee, channel_fee, detail, status, proposed_action, proposal_reason,
        resolution, created_at, updated_at)
SELECT CASE WHEN e.side = 'local' THEN 'local_only' ELSE 'status_mismatch' END,
       e.channel_id, %(run)s, e.bill_date, e.object_kind, e.order_no,
       CASE WHEN e.side = 'local' THEN e.amount END, CASE WHEN e.side = 'channel' THEN e.amount END,
       coalesce(l.status, CASE WHEN e.side = 'local' THEN 'success' ELSE '' END),
       CASE WHEN e.side = 'channel' THEN e.expected_status ELSE '' END,
       NULL, NULL,
       'Waited in the cross-day pool; the next day''s bill did not settle it.',
       'open', '', '', '', now(), now()
  FROM expired e LEFT JOIN recon_pool_local l ON l.kind = e.object_kind AND l.order_no = e.order_no
ON CONFLICT (object_kind, order_no, kind) WHERE status IN ('open', 'investigating') DO NOTHING
"""
POOL_ADD = f"""
INSERT INTO reconciliation_poolitem
       (channel_id, kind, object_kind, order_no, side, amount, expected_status, bill_date, due_date, run_id,
        status, created_at)
SELECT %(channel)s, %(kind)s, r.kind, r.order_no,
       CASE WHEN r.outcome = '{POOL_LOCAL}' THEN 'local' ELSE 'channel' END,
       CASE WHEN r.outcome = '{POOL_LOCAL}' THEN r.local_amount ELSE r.channel_amount END,
       CASE WHEN r.outcome = '{POOL_LOCAL}' THEN r.local_status ELSE r.channel_status END,
       %(day)s, %(due)s, %(run)s, 'waiting', now()
  FROM recon_result r WHERE r.outcome IN ('{POOL_LOCAL}', '{POOL_CHANNEL}')
ON CONFLICT (object_kind, order_no) WHERE status = 'waiting' DO NOTHING
"""
DISCREPANCIES_ADD = """
INSERT INTO reconciliation_discrepancy
       (kind, channel_id, run_id, bill_date, object_kind, order_no, local_amount, channel_amount,
        local_status, channel_status, local_fee, channel_fee, detail, status, proposed_action, proposal_reason,
        resolution, created_at, updated_at)
SELECT r.outcome, %(channel)s, %(run)s, %(day)s, r.kind, r.order_no, r.local_amount, r.channel_amount,
       r.local_status, r.channel_status, r.local_fee, r.channel_fee, '', 'open', '', '', '', now(), now()
  FROM recon_result r
 WHERE r.outcome = ANY(%(outcomes)s)
   AND NOT EXISTS (SELECT 1 FROM reconciliation_discrepancy d
                    WHERE d.object_kind = r.kind AND d.order_no = r.order_no AND d.kind = r.outcome
                      AND d.bill_date = %(day)s AND d.status IN ('resolved', 'ignored'))
ON CONFLICT (object_kind, order_no, kind) WHERE status IN ('open', 'investigating') DO NOTHING
"""
TEMP_DROP = "DROP TABLE IF EXISTS recon_channel, recon_local, recon_result, recon_pool_local"
COUNTS = """
SELECT outcome, count(*), coalesce(sum(local_amount), 0), count(local_status) FILTER (WHERE local_status <> '')
  FROM recon_result GROUP BY outcome
"""


@dataclass(frozen=True)
class Window:
    """The instants of a bill's day, and where its last minutes (the cross-day pool) begin."""

    start: datetime
    end: datetime
    pool_from: datetime

    @classmethod
    def of(cls, day: date) -> "Window":
        start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
        return cls(start, end, end - timedelta(minutes=settings.RECONCILIATION_CROSS_DAY_MINUTES))


@dataclass
class Counts:
    """What a run found: our records and their amount, and the orders of each outcome."""

    by_outcome: dict[str, int] = field(default_factory=dict)
    local_records: int = 0
    local_amount: Decimal = Decimal("0.00")
    pool_settled: int = 0

    @property
    def matched(self) -> int:
        return self.by_outcome.get(MATCHED, 0)

    @property
    def pooled(self) -> int:
        return self.by_outcome.get(POOL_LOCAL, 0) + self.by_outcome.get(POOL_CHANNEL, 0)


def match(run: Run, bill: BillFile) -> Counts:
    """Match ``bill`` for ``run`` (in the caller's transaction): the pool is settled and refilled,
    discrepancies are inserted; returns what was found."""
    window = Window.of(bill.bill_date)
    params: dict[str, Any] = {
        "file": bill.pk,
        "channel": bill.channel_id,
        "kind": bill.kind,
        "run": run.pk,
        "day": bill.bill_date,
        "due": bill.bill_date + timedelta(days=1),
        "start": window.start,
        "end": window.end,
        "pool_from": window.pool_from,
        "outcomes": [str(outcome) for outcome in DISCREPANCY_OUTCOMES],
    }
    kinds = KINDS[BillKind(bill.kind)]
    params["others"] = list(
        BillFile.objects.filter(channel_id=bill.channel_id, status=BillFile.Status.CURRENT)
        .exclude(pk=bill.pk)
        .values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        # In a transaction that runs more than one bill (tests, a day's catch-up), the tables of
        # the previous one are still there.
        cursor.execute(TEMP_DROP)
        cursor.execute(CHANNEL_SIDE, params)
        cursor.execute("ANALYZE recon_channel")
        cursor.execute(_local_side(kinds, others=bool(params["others"])), params)
        cursor.execute("ANALYZE recon_local")
        cursor.execute(RESULT, params)
        cursor.execute(_pool_local(kinds), params)
        cursor.execute(POOL_SETTLE, params)
        settled = cursor.rowcount
        cursor.execute(POOL_EXPIRE, params)
        cursor.execute(POOL_ADD, params)
        cursor.execute(DISCREPANCIES_ADD, params)
        cursor.execute(COUNTS)
        rows = cursor.fetchall()
        cursor.execute(TEMP_DROP)
    counts = Counts(pool_settled=settled)
    for outcome, number, local_amount, local_records in rows:
        counts.by_outcome[outcome] = number
        counts.local_records += local_records
        counts.local_amount += local_amount
    return counts


def _local_side(kinds: tuple[str, ...], *, others: bool) -> str:
    """Our records of the day not matched by another bill, and the records the bill names that
    are not among them. Without other bills of the channel (its first day) nothing is probed."""
    parts = []
    for kind in kinds:
        day = f"{LOCAL_ROWS[kind]} WHERE {DAY_FILTERS[kind]}"
        named = f"{LOCAL_ROWS[kind]} JOIN recon_channel c ON c.kind = '{kind}' AND {NAMED_FILTERS[kind]}"
        not_today = f"NOT coalesce({DAY_FILTERS[kind]}, false)"
        if others:
            day = f"SELECT d.* FROM ({day}) d WHERE NOT {IN_ANOTHER_BILL.format(row='d')}"
            not_today = f"{not_today} OR {IN_ANOTHER_BILL.format(row='c')}"
        # UNION ALL: the two parts never share a row, so a million rows need no de-duplication.
        parts += [day, f"{named} WHERE {not_today}"]
    return "CREATE TEMP TABLE recon_local ON COMMIT DROP AS " + " UNION ALL ".join(parts)


def _pool_local(kinds: tuple[str, ...]) -> str:
    """Our records that the waiting pool items due by this day name, in their current state."""
    parts = [
        f"{LOCAL_ROWS[kind]} JOIN reconciliation_poolitem i ON i.object_kind = '{kind}' "
        f"AND i.order_no = {NUMBERS[kind]} AND i.channel_id = %(channel)s AND i.kind = %(kind)s "
        "AND i.status = 'waiting' AND i.due_date <= %(day)s"
        for kind in kinds
    ]
    return "CREATE TEMP TABLE recon_pool_local ON COMMIT DROP AS " + " UNION ALL ".join(parts)
