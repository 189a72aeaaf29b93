"""Row and advisory locks of withdrawals (docs/ARCHITECTURE.md §5).

Lock order: a withdrawal, payment order or refund row (a payment order before its refunds)
before any ledger row (the hold, then accounts, which the
wallet's posting functions lock in id order). A user's submission lock comes first of all.
"""

from django.db import connection

from payments.withdrawals.models import Withdrawal

# First key of pg_advisory_xact_lock(int, int): the namespace of "one user's withdrawal submissions".
WITHDRAWAL_SUBMIT_LOCK = 0x5744  # "WD"


def withdrawal_lock(pk: int) -> Withdrawal:
    """The withdrawal, locked until the end of the transaction."""
    return Withdrawal.objects.select_for_update(of=("self",)).get(pk=pk)


def user_withdrawals_lock(user_id: int) -> None:
    """Serialise one user's submissions until commit, so each sees the ones before it when it
    counts against the limits. Other users and other ledger work are not held up."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [WITHDRAWAL_SUBMIT_LOCK, user_id])
