"""Read queries over the ledger: balances, statements, pending holds."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Abs

from wallet.models import Account, Entry, Hold, Transfer
from wallet.money import ZERO


@dataclass(frozen=True)
class WalletSummary:
    currency: str
    balance: Decimal
    available: Decimal
    frozen: Decimal
    status: str


# A hot account's balance: the audit's sum of its entries up to its checkpoint plus its entries
# after it, found among those created since the checkpoint's horizon (the statement index), so a
# read costs a day of the account's entries, not its years. Without a checkpoint, every entry.
_HOT_BALANCE = """
    SELECT CASE WHEN c.entry_id IS NULL
                THEN (SELECT coalesce(sum(e.amount), 0) FROM wallet_entry e WHERE e.account_id = %(account)s)
                ELSE coalesce((SELECT b.total FROM wallet_auditedbalance b WHERE b.account_id = %(account)s), 0)
                   + coalesce((SELECT sum(e.amount) FROM wallet_entry e
                                WHERE e.account_id = %(account)s AND e.created_at >= c.horizon
                                  AND e.id > c.entry_id), 0)
           END
      FROM (SELECT 1) AS one
      LEFT JOIN (SELECT entry_id, horizon FROM wallet_auditcheckpoint ORDER BY id DESC LIMIT 1) AS c ON true
"""


def account_balance(*, account: Account) -> Decimal:
    """The account's balance; hot accounts derive it from their entries (they are never locked),
    in one query whatever their history (``_HOT_BALANCE``)."""
    if not account.is_hot:
        return account.balance
    with connection.cursor() as cursor:
        cursor.execute(_HOT_BALANCE, {"account": account.pk})
        row = cursor.fetchone()
    return row[0] if row else ZERO


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
