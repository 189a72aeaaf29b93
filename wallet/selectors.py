"""Read queries over the ledger: balances, statements, pending holds."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Abs

from wallet.models import Account, AuditCheckpoint, Entry, Hold, Transfer
from wallet.money import ZERO


@dataclass(frozen=True)
class WalletSummary:
    currency: str
    balance: Decimal
    available: Decimal
    frozen: Decimal
    status: str


# A hot account's balance: the audit's sum of its entries up to the newest checkpoint plus its
# entries after it, found among those created since the checkpoint's horizon (the statement
# index), so a read costs the entries since the last clean audit, not the account's years. The
# checkpoint's values are literals, so the planner sees how few rows that is; the row is empty
# when a run moved the checkpoint in between (its sums then hold more entries).
_HOT_BALANCE_SINCE_CHECKPOINT = """
    SELECT coalesce(b.total, 0)
         + coalesce((SELECT sum(e.amount) FROM wallet_entry e
                      WHERE e.account_id = %(account)s AND e.created_at >= %(horizon)s AND e.id > %(entry)s), 0)
      FROM (SELECT 1) AS one
      LEFT JOIN wallet_auditedbalance b ON b.account_id = %(account)s
     WHERE (SELECT max(id) FROM wallet_auditcheckpoint) = %(checkpoint)s
"""


def account_balance(*, account: Account) -> Decimal:
    """The account's balance; hot accounts derive it from their entries (they are never locked),
    from the audit's checkpoint when there is one (``_HOT_BALANCE_SINCE_CHECKPOINT``)."""
    if not account.is_hot:
        return account.balance
    while checkpoint := AuditCheckpoint.objects.order_by("-id").values("id", "entry_id", "horizon").first():
        with connection.cursor() as cursor:
            cursor.execute(
                _HOT_BALANCE_SINCE_CHECKPOINT,
                {
                    "account": account.pk,
                    "checkpoint": checkpoint["id"],
                    "entry": checkpoint["entry_id"],
                    "horizon": checkpoint["horizon"],
                },
            )
            row = cursor.fetchone()
        if row is not None:
            return row[0]
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or ZERO


def user_account(*, user: User, currency: str = "CNY") -> Account | None:
    return Account.objects.filter(owner=user, kind=Account.Kind.USER, currency=currency).first()


def wallet_summary(*, user: User, currency: str = "CNY") -> WalletSummary:
    """Balance, available and frozen (held) money of the user's wallet; zeros before first use."""
    account = user_account(user=user, currency=currency)
    if account is None:
        return WalletSummary(currency=currency, balance=ZERO, available=ZERO, frozen=ZERO, status="active")
    return WalletSummary(
        currency=account.currency,
        balance=account.balance,
        available=account.balance - account.held,
        frozen=account.held,
        status=account.status,
    )


def statement_entries(*, account: Account | None) -> QuerySet[Entry]:
    """Entries of the account with their transfer and the other side of the money, newest
    first (ordered by the paginator), in one query whatever the page size.

    The other side is, among the transfer's legs of the opposite sign, the largest: its
    account's ``counterparty_code`` (``user:7:CNY``, ``clearing:wechat``, ``merchant:shop``...)
    and, for a user's wallet, ``counterparty_username``. ``wallet.statements`` turns them into
    the names the user knows.
    """
    if account is None:
        return Entry.objects.none()
    other_side = (
        Entry.objects.filter(transfer_id=OuterRef("transfer_id"))
        .alias(sign=ExpressionWrapper(F("amount") * OuterRef("amount"), output_field=DecimalField()))
        .filter(sign__lt=0)
        .order_by(Abs("amount").desc(), "id")
    )
    return (
        Entry.objects.filter(account=account)
        .select_related("transfer")
        .annotate(
            counterparty_code=Subquery(other_side.values("account__code")[:1]),
            counterparty_username=Subquery(other_side.values("account__owner__username")[:1]),
        )
    )


def pending_holds(*, account: Account) -> QuerySet[Hold]:
    return Hold.objects.filter(account=account, status=Hold.Status.PENDING).order_by("created_at", "id")


def transfer_for_user(*, user: User, transfer_id: int) -> Transfer | None:
    """A transfer the user took part in (has an entry on one of their accounts), else None."""
    return (
        Transfer.objects.filter(pk=transfer_id, entries__account__owner=user)
        .prefetch_related("entries__account")
        .distinct()
        .first()
    )
