"""Internal reconciliation: our orders against our own ledger, in set-based SQL
(docs/RECONCILIATION.md, "Internal reconciliation").

Two kinds of check. Per order: every payment order, refund and withdrawal has exactly the ledger
legs its state implies (``ledger_mismatch``). Per wallet: each category of a user wallet's entries
(by transfer kind) equals what the orders explain, and the entries sum to the balance
(``balance_mismatch``). Each check is one statement that returns the offending rows only and, when
asked, opens a discrepancy for each by INSERT ... SELECT in the same statement: nothing is read
into Python row by row, so a check costs a few scans and hash joins on millions of orders.

The per-order checks also run for one order at a time (the near-real-time check, realtime.py).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from payments import metrics
from payments.orders.refunds import REFUND_ESCROW
from reconciliation.models import Outcome
from wallet.dates import local_midnight

logger = logging.getLogger(__name__)
# Told how many checks are done and the last one's name.
OnCheck = Callable[[int, str], object]


@dataclass(frozen=True)
class Check:
    object_kind: str  # the discrepancy's object_kind
    outcome: Outcome  # the discrepancy's kind
    sql: str  # selects (object_kind, order_no, channel_id, local_status, expected, found, detail)
    table_alias: str = ""  # the order table's alias in ``{scope}``; blank: the check has no scope


@dataclass(frozen=True)
class Difference:
    check: str
    outcome: str
    object_kind: str
    order_no: str  # the order's number, or the wallet account's code
    channel_id: int | None
    local_status: str
    expected: Decimal  # what the order (or the orders, for a wallet) says the ledger moved
    found: Decimal  # what the ledger moved
    detail: str
    opened: bool = False  # a discrepancy was opened for it now (not already open, not ignored)

    def __str__(self) -> str:
        return f"{self.object_kind} {self.order_no}: expected {self.expected}, found {self.found}: {self.detail}"


# Compares the ``expected`` and ``found`` legs (order id, part, account code, signed amount) of the
# ``orders`` (id, order_no, channel_id, status, hold_status, hold_expected) and keeps the orders
# where a leg or the hold differs. ``expected``/``found`` of a row: the amount the order's main
# transfer (``{main}``) moves, by the order and in the ledger.
LEGS_COMPARED = """
, legs AS (
    SELECT coalesce(x.id, f.id) AS id, coalesce(x.part, f.part) AS part, coalesce(x.code, f.code) AS code,
           x.amount AS expected, f.amount AS found
      FROM expected x FULL JOIN found f ON f.id = x.id AND f.part = x.part AND f.code = x.code
),
by_order AS (
    SELECT id,
           sum(expected) FILTER (WHERE part = '{main}' AND expected > 0) AS expected,
           sum(found) FILTER (WHERE part = '{main}' AND found > 0) AS found,
           string_agg(part || ' leg on ' || code || ': expected ' || coalesce(expected::text, 'none')
                      || ', found ' || coalesce(found::text, 'none'), '; ' ORDER BY part, code)
               FILTER (WHERE expected IS DISTINCT FROM found) AS legs
      FROM legs GROUP BY id
)
SELECT '{object_kind}'::text AS object_kind, o.order_no::text, o.channel_id, o.status::text AS local_status,
       coalesce(b.expected, 0) AS expected, coalesce(b.found, 0) AS found,
       left(concat_ws('; ',
                      CASE WHEN o.hold_status IS DISTINCT FROM o.hold_expected
                           THEN 'hold ' || o.hold_status || ', expected ' || o.hold_expected END,
                      b.legs), 500) AS detail
  FROM orders o LEFT JOIN by_order b ON b.id = o.id
 WHERE o.hold_status IS DISTINCT FROM o.hold_expected OR b.legs IS NOT NULL
"""

# The wallet of an order's user, by its code (created on first use: the code is the one
# wallet.services.account_for_user gives it).
WALLET_CODE = "coalesce(ua.code, 'user:' || {alias}.user_id || ':' || {alias}.currency)"
WALLET_JOIN = (
    "LEFT JOIN wallet_account ua"
    " ON ua.owner_id = {alias}.user_id AND ua.kind = 'user' AND ua.currency = {alias}.currency"
)
ENTRIES_OF = "JOIN wallet_entry e ON e.transfer_id = {transfer} JOIN wallet_account a ON a.id = e.account_id"

# Submission holds the amount; success captures it (the user's wallet gives ``amount``: ``actual``
# to the channel's clearing account, ``fee`` to fee income); a return posts all of it back
# (``withdrawal:<no>:reversal``); failed, rejected and cancelled release it.
PAYOUT_EFFECTS = f"""
WITH orders AS (
    SELECT w.id, w.order_no, w.channel_id, w.status, w.amount, w.fee, w.actual_amount,
           h.status AS hold_status, h.capture_transfer_id,
           CASE WHEN w.status IN ('success', 'refunded') THEN 'captured'
                WHEN w.status IN ('failed', 'rejected', 'cancelled') THEN 'released'
                ELSE 'pending' END AS hold_expected,
           {WALLET_CODE.format(alias="w")} AS wallet, 'clearing:' || c.code AS clearing
      FROM payments_withdrawal w
      JOIN payments_channel c ON c.id = w.channel_id
      JOIN wallet_hold h ON h.id = w.hold_id
      {WALLET_JOIN.format(alias="w")}
     WHERE {{scope}}
),
expected AS (
    SELECT o.id, x.part, x.code, x.amount
      FROM orders o
     CROSS JOIN LATERAL (VALUES
         ('capture', o.wallet, -o.amount), ('capture', o.clearing, o.actual_amount), ('capture', 'fees', o.fee),
         ('reversal', o.wallet, o.amount), ('reversal', o.clearing, -o.actual_amount), ('reversal', 'fees', -o.fee)
     ) AS x (part, code, amount)
     WHERE x.amount <> 0 AND (o.status = 'refunded' OR (o.status = 'success' AND x.part = 'capture'))
),
found AS (
    SELECT o.id, 'capture' AS part, a.code, e.amount
      FROM orders o {ENTRIES_OF.format(transfer="o.capture_transfer_id")}
    UNION ALL
    SELECT o.id, 'reversal', a.code, e.amount
      FROM orders o JOIN wallet_transfer t ON t.idempotency_key = 'withdrawal:' || o.order_no || ':reversal'
      {ENTRIES_OF.format(transfer="t.id")}
)
{LEGS_COMPARED.format(main="capture", object_kind="payout")}
"""  # noqa: S608 - fixed fragments; the values are parameters

# Success moves the amount once (``payment:<no>``): from the channel's clearing account (the
# payer's wallet for a balance payment) to the payer's wallet (recharge) or the merchant (order
# payment). A reversal takes back what was not refunded (``payment:<no>:reversal``). Anything
# else moves nothing.
PAYMENT_EFFECTS = f"""
WITH orders AS (
    SELECT p.id, p.order_no, p.channel_id, p.status, p.amount, p.amount - p.refunded_amount AS unrefunded,
           NULL::text AS hold_status, NULL::text AS hold_expected,
           CASE WHEN p.business_type = 'recharge' THEN {WALLET_CODE.format(alias="p")} ELSE ma.code END AS destination,
           CASE WHEN p.channel_id IS NULL THEN {WALLET_CODE.format(alias="p")} ELSE 'clearing:' || c.code END AS source,
           'clearing:' || c.code AS clearing
      FROM payments_paymentorder p
      LEFT JOIN payments_channel c ON c.id = p.channel_id
      LEFT JOIN wallet_account ma ON ma.id = p.merchant_account_id
      {WALLET_JOIN.format(alias="p")}
     WHERE {{scope}}
),
expected AS (
    SELECT o.id, x.part, x.code, x.amount
      FROM orders o
     CROSS JOIN LATERAL (VALUES
         ('payment', o.destination, o.amount), ('payment', o.source, -o.amount),
         ('reversal', o.destination, -o.unrefunded), ('reversal', o.clearing, o.unrefunded)
     ) AS x (part, code, amount)
     WHERE x.amount <> 0 AND (o.status = 'reversed' OR (o.status = 'success' AND x.part = 'payment'))
),
found AS (
    SELECT o.id, 'payment' AS part, a.code, e.amount
      FROM orders o JOIN wallet_transfer t ON t.idempotency_key = 'payment:' || o.order_no
      {ENTRIES_OF.format(transfer="t.id")}
    UNION ALL
    SELECT o.id, 'reversal', a.code, e.amount
      FROM orders o JOIN wallet_transfer t ON t.idempotency_key = 'payment:' || o.order_no || ':reversal'
      {ENTRIES_OF.format(transfer="t.id")}
)
{LEGS_COMPARED.format(main="payment", object_kind="payment")}
"""  # noqa: S608 - fixed fragments; the values are parameters

# The request moves the amount from the merchant account to ``escrow:refunds`` (``refund:<no>:reserve``);
# success pays it from escrow to the channel's clearing account (the payer's wallet for a balance
# payment: ``refund:<no>:settle``); failure gives it back to the merchant (``refund:<no>:release``).
# Refunds requested before the escrow (``hold_id`` set) held the amount on the merchant account
# instead: success captures the hold (merchant -> destination), failure releases it.
REFUND_EFFECTS = f"""
WITH orders AS (
    SELECT r.id, r.refund_no AS order_no, p.channel_id, r.status, r.amount,
           h.status AS hold_status, h.capture_transfer_id,
           CASE WHEN r.hold_id IS NULL THEN NULL
                WHEN r.status = 'success' THEN 'captured' WHEN r.status = 'failed' THEN 'released'
                ELSE 'pending' END AS hold_expected,
           r.hold_id IS NOT NULL AS held,
           ma.code AS merchant,
           CASE WHEN p.channel_id IS NULL THEN {WALLET_CODE.format(alias="p")} ELSE 'clearing:' || c.code END
               AS destination
      FROM payments_refund r
      JOIN payments_paymentorder p ON p.id = r.payment_order_id
      LEFT JOIN wallet_hold h ON h.id = r.hold_id
      LEFT JOIN payments_channel c ON c.id = p.channel_id
      LEFT JOIN wallet_account ma ON ma.id = p.merchant_account_id
      {WALLET_JOIN.format(alias="p")}
     WHERE {{scope}}
),
expected AS (
    SELECT o.id, x.part, x.code, x.amount
      FROM orders o
     CROSS JOIN LATERAL (VALUES
         ('reserve', o.merchant, -o.amount), ('reserve', '{REFUND_ESCROW}', o.amount),
         ('refund', CASE WHEN o.held THEN o.merchant ELSE '{REFUND_ESCROW}' END, -o.amount),
         ('refund', o.destination, o.amount),
         ('release', '{REFUND_ESCROW}', -o.amount), ('release', o.merchant, o.amount)
     ) AS x (part, code, amount)
     WHERE (x.part = 'refund' AND o.status = 'success')
        OR (NOT o.held AND (x.part = 'reserve' OR (x.part = 'release' AND o.status = 'failed')))
),
found AS (
    SELECT o.id, 'refund' AS part, a.code, e.amount
      FROM orders o {ENTRIES_OF.format(transfer="o.capture_transfer_id")}
    UNION ALL
    SELECT o.id, CASE split_part(t.idempotency_key, ':', 3) WHEN 'settle' THEN 'refund'
                     ELSE split_part(t.idempotency_key, ':', 3) END, a.code, e.amount
      FROM orders o
      JOIN wallet_transfer t
        ON t.idempotency_key IN ('refund:' || o.order_no || ':reserve', 'refund:' || o.order_no || ':settle',
                                 'refund:' || o.order_no || ':release')
      {ENTRIES_OF.format(transfer="t.id")}
)
{LEGS_COMPARED.format(main="refund", object_kind="refund")}
"""  # noqa: S608 - fixed fragments; the values are parameters

# Each user wallet's entries by category (the transfer's kind; p2p split by direction) against
# what explains them: the user's orders, the campaign rewards credited to them, and for p2p the
# posted user-to-user transfers (``wallet_peertransfer``, docs/WALLET.md). A category no order
# explains (a kind not listed here) is expected to be zero. Then the categories must sum to the
# balance.
WALLET_BALANCE = """
WITH wallets AS (
    SELECT a.id, a.code, a.owner_id AS user_id, a.currency, a.balance FROM wallet_account a WHERE a.kind = 'user'
),
booked AS (
    SELECT w.user_id, w.currency,
           CASE WHEN t.kind = 'p2p' AND e.amount < 0 THEN 'p2p_out' WHEN t.kind = 'p2p' THEN 'p2p_in'
                ELSE t.kind END AS category,
           sum(e.amount) AS amount
      FROM wallets w JOIN wallet_entry e ON e.account_id = w.id JOIN wallet_transfer t ON t.id = e.transfer_id
     GROUP BY 1, 2, 3
),
p2p AS (
    SELECT sender_id AS sender, recipient_id AS recipient, currency, amount
      FROM wallet_peertransfer WHERE status = 'posted'
),
explained AS (
    SELECT user_id, currency, 'recharge' AS category, amount
      FROM payments_paymentorder WHERE business_type = 'recharge' AND status IN ('success', 'reversed')
    UNION ALL
    SELECT user_id, currency, 'recharge_reversal', -(amount - refunded_amount)
      FROM payments_paymentorder WHERE business_type = 'recharge' AND status = 'reversed'
    UNION ALL
    SELECT user_id, currency, 'order_payment', -amount
      FROM payments_paymentorder
     WHERE business_type = 'order_payment' AND channel_id IS NULL AND status IN ('success', 'reversed')
    UNION ALL
    SELECT p.user_id, p.currency, 'refund', r.amount
      FROM payments_refund r JOIN payments_paymentorder p ON p.id = r.payment_order_id
     WHERE p.channel_id IS NULL AND r.status = 'success'
    UNION ALL
    SELECT user_id, currency, 'withdrawal', -amount FROM payments_withdrawal WHERE status IN ('success', 'refunded')
    UNION ALL
    SELECT user_id, currency, 'withdrawal_reversal', amount FROM payments_withdrawal WHERE status = 'refunded'
    UNION ALL
    SELECT r.user_id, a.currency, 'campaign_reward', r.amount
      FROM wallet_reward r JOIN wallet_campaign c ON c.id = r.campaign_id JOIN wallet_account a ON a.id = c.account_id
     WHERE r.status = 'credited'
    UNION ALL
    SELECT sender, currency, 'p2p_out', -amount FROM p2p
    UNION ALL
    SELECT recipient, currency, 'p2p_in', amount FROM p2p
),
compared AS (
    SELECT coalesce(x.user_id, b.user_id) AS user_id, coalesce(x.currency, b.currency) AS currency,
           coalesce(x.category, b.category) AS category,
           coalesce(x.amount, 0) AS expected, coalesce(b.amount, 0) AS found
      FROM (SELECT user_id, currency, category, sum(amount) AS amount FROM explained GROUP BY 1, 2, 3) x
      FULL JOIN booked b ON b.user_id = x.user_id AND b.currency = x.currency AND b.category = x.category
),
by_wallet AS (
    SELECT user_id, currency, sum(expected) AS expected, sum(found) AS found,
           string_agg(category || ': expected ' || expected || ', found ' || found, '; ' ORDER BY category)
               FILTER (WHERE expected <> found) AS categories
      FROM compared GROUP BY 1, 2
)
SELECT 'account'::text AS object_kind,
       coalesce(w.code, 'user:' || s.user_id || ':' || s.currency)::text AS order_no,
       NULL::bigint AS channel_id, ''::text AS local_status,
       coalesce(s.expected, 0) AS expected, coalesce(w.balance, 0) AS found,
       left(concat_ws('; ',
                      CASE WHEN coalesce(s.found, 0) <> coalesce(w.balance, 0)
                           THEN 'balance ' || coalesce(w.balance, 0) || ' but the entries sum to '
                                || coalesce(s.found, 0) END,
                      s.categories), 500) AS detail
  FROM by_wallet s FULL JOIN wallets w ON w.user_id = s.user_id AND w.currency = s.currency
 WHERE s.categories IS NOT NULL OR coalesce(s.found, 0) <> coalesce(w.balance, 0)
"""

CHECKS: dict[str, Check] = {
    "payment_ledger_effects": Check("payment", Outcome.LEDGER_MISMATCH, PAYMENT_EFFECTS, table_alias="p"),
    "refund_ledger_effects": Check("refund", Outcome.LEDGER_MISMATCH, REFUND_EFFECTS, table_alias="r"),
    "payout_ledger_effects": Check("payout", Outcome.LEDGER_MISMATCH, PAYOUT_EFFECTS, table_alias="w"),
    "wallet_balance_explained": Check("account", Outcome.BALANCE_MISMATCH, WALLET_BALANCE),
}
ORDER_CHECKS = {check.object_kind: name for name, check in CHECKS.items() if check.table_alias}

# Opens a discrepancy for each row of the check, in the same statement, unless one is being
# worked on or the same difference (same amounts) was ignored before.
OPEN = """
WITH found AS MATERIALIZED ({check}),
opened AS (
    INSERT INTO reconciliation_discrepancy
           (kind, channel_id, run_id, bill_date, object_kind, order_no, local_amount, channel_amount,
            local_status, channel_status, local_fee, channel_fee, detail, status, proposed_action, proposal_reason,
            resolution, created_at, updated_at)
    SELECT %(outcome)s, f.channel_id, NULL, %(bill_date)s, f.object_kind, f.order_no, f.expected, f.found,
           f.local_status, '', NULL, NULL, f.detail, 'open', '', '', '', now(), now()
      FROM found f
     WHERE NOT EXISTS (SELECT 1 FROM reconciliation_discrepancy d
                        WHERE d.object_kind = f.object_kind AND d.order_no = f.order_no AND d.kind = %(outcome)s
                          AND d.status = 'ignored'
                          AND d.local_amount = f.expected AND d.channel_amount = f.found)
    ON CONFLICT (object_kind, order_no, kind) WHERE status IN ('open', 'investigating') DO NOTHING
    RETURNING object_kind, order_no
)
SELECT f.*, o.order_no IS NOT NULL
  FROM found f LEFT JOIN opened o ON o.object_kind = f.object_kind AND o.order_no = f.order_no
"""


@dataclass(frozen=True)
class Scope:
    """Which orders the per-order checks look at: one (``pk``), those finished in a day, or all."""

    pk: int | None = None
    day: date | None = None

    def sql(self, alias: str) -> str:
        if self.pk is not None:
            return f"{alias}.id = %(pk)s"
        if self.day is not None:
            return f"{alias}.finished_at >= %(start)s AND {alias}.finished_at < %(end)s"
        return "TRUE"

    def params(self) -> dict:
        if self.day is None:
            return {"pk": self.pk}
        return {"pk": self.pk, "start": local_midnight(self.day), "end": local_midnight(self.day + timedelta(days=1))}


def internal_reconcile(*, day: date | None = None, on_check: OnCheck | None = None) -> list[Difference]:
    """Run every check and open a discrepancy (``bill_date`` ``day``, else today) for each
    difference; returns them all, ``opened`` telling the new ones. With ``day``, the per-order
    checks look at the orders finished that day (China time); without, at every order. Wallet
    balances are always checked whole: a balance is the sum of its whole history. ``on_check``
    hears how many checks are done and the last one's name (wallet/progress.py)."""
    return _run(
        CHECKS, Scope(day=day), bill_date=day or timezone.localdate(), open_discrepancies=True, on_check=on_check
    )


def internal_differences(*, day: date | None = None, on_check: OnCheck | None = None) -> list[Difference]:
    """What ``internal_reconcile`` would find, opening nothing."""
    return _run(CHECKS, Scope(day=day), bill_date=None, open_discrepancies=False, on_check=on_check)


def order_ledger_check(*, kind: str, pk: int) -> list[Difference]:
    """The ledger check of one order (``kind`` payment, refund or payout), opening a
    discrepancy dated today for a difference."""
    name = ORDER_CHECKS[kind]
    return _run({name: CHECKS[name]}, Scope(pk=pk), bill_date=timezone.localdate(), open_discrepancies=True)


def internal_nightly() -> int:
    """The whole book, every night: each difference is opened as a discrepancy and logged as an
    error for alerting; returns how many there are (also the ``wallet_internal_differences`` gauge)."""
    differences = internal_reconcile()
    for difference in differences:
        logger.error("internal reconciliation: %s", difference)
    if not differences:
        logger.info("internal reconciliation clean")
    metrics.INTERNAL_DIFFERENCES.set(len(differences))
    return len(differences)


def _run(
    checks: dict[str, Check],
    scope: Scope,
    *,
    bill_date: date | None,
    open_discrepancies: bool,
    on_check: OnCheck | None = None,
) -> list[Difference]:
    differences: list[Difference] = []
    with connection.cursor() as cursor:
        for done, (name, check) in enumerate(checks.items(), start=1):
            sql = check.sql.format(scope=scope.sql(check.table_alias)) if check.table_alias else check.sql
            params = {**scope.params(), "outcome": str(check.outcome), "bill_date": bill_date}
            cursor.execute(OPEN.format(check=sql) if open_discrepancies else sql, params)
            for row in cursor.fetchall():
                differences.append(Difference(name, str(check.outcome), *row))
            if on_check is not None:
                on_check(done, name)
    return differences
