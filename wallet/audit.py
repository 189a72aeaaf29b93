"""Ledger invariants that the ledger alone can check (docs/ARCHITECTURE.md §8), as set-based SQL.

Used by ``manage.py ledger_audit``, the nightly task and the tests. Each query returns the
offending rows only, so a clean ledger costs a few aggregate scans and no Python loops.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class Violation:
    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.detail}"


CHECKS: dict[str, tuple[str, str]] = {
    "transfer_zero_sum": (
        """
        SELECT t.id::text, coalesce(sum(e.amount), 0)::text, count(e.id)::text
          FROM wallet_transfer t LEFT JOIN wallet_entry e ON e.transfer_id = t.id
         GROUP BY t.id
        HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2
        """,
        "transfer {0}: entries sum to {1} over {2} entries (must be 0 over at least 2)",
    ),
    "balance_equals_entries": (
        """
        SELECT a.code, a.balance::text, coalesce(s.total, 0)::text
          FROM wallet_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_entry GROUP BY account_id) s
            ON s.account_id = a.id
         WHERE NOT a.is_hot AND a.balance <> coalesce(s.total, 0)
        """,
        "account {0}: balance {1} but its entries sum to {2}",
    ),
    "held_equals_pending_holds": (
        """
        SELECT a.code, a.held::text, coalesce(h.total, 0)::text
          FROM wallet_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM wallet_hold
                      WHERE status = 'pending' GROUP BY account_id) h
            ON h.account_id = a.id
         WHERE a.held <> coalesce(h.total, 0)
        """,
        "account {0}: held {1} but pending holds sum to {2}",
    ),
    "available_not_negative": (
        """
        SELECT a.code, a.balance::text, a.held::text
          FROM wallet_account a
         WHERE NOT a.allow_negative AND a.balance - a.held < 0
        """,
        "account {0}: balance {1} minus held {2} is negative",
    ),
    "captured_hold_matches_transfer": (
        """
        SELECT h.id::text, h.amount::text, coalesce(-e.amount, 0)::text
          FROM wallet_hold h
          LEFT JOIN wallet_entry e ON e.transfer_id = h.capture_transfer_id AND e.account_id = h.account_id
         WHERE h.status = 'captured' AND (e.id IS NULL OR -e.amount > h.amount OR e.amount >= 0)
        """,
        "hold {0} of {1}: its capture debited {2} from the held account",
    ),
    # Red packet escrow is hot (may go negative): its share rows bound it instead, so it must
    # hold exactly the shares neither paid out nor refunded (docs/WALLET.md).
    "redpacket_escrow_equals_shares": (
        """
        SELECT 'escrow:redpacket', coalesce(e.total, 0)::text, coalesce(s.total, 0)::text
          FROM (SELECT sum(en.amount) AS total FROM wallet_entry en
                  JOIN wallet_account a ON a.id = en.account_id WHERE a.code = 'escrow:redpacket') e,
               (SELECT sum(amount) AS total FROM wallet_redpacketshare
                 WHERE transfer_id IS NULL AND NOT refunded) s
         WHERE coalesce(e.total, 0) <> coalesce(s.total, 0)
        """,
        "account {0}: holds {1} but red packet shares still owe {2}",
    ),
}


def ledger_audit(*, on_check: Callable[[int, str], object] | None = None) -> list[Violation]:
    """Every violation of the ledger invariants; an empty list means the ledger is sound.
    ``on_check`` hears how many checks are done and the last one's name: on a large ledger
    each is a scan of its own (wallet/progress.py)."""
    violations: list[Violation] = []
    with connection.cursor() as cursor:
        for done, (check, (sql, template)) in enumerate(CHECKS.items(), start=1):
            cursor.execute(sql)
            for row in cursor.fetchall():
                violations.append(Violation(check=check, subject=row[0], detail=template.format(*row)))
            if on_check is not None:
                on_check(done, check)
    return violations
