"""Every write to the ledger (docs/ARCHITECTURE.md §4).

Each posting is one call of a PL/pgSQL function (wallet/sql/), so a transfer costs one round
trip: the function claims the idempotency key, locks accounts in id order, checks funds and
frozen status, updates balances and appends entries. Python validates first so callers get
clear errors; the database guarantees the invariants either way.
"""

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from wallet import errors
from wallet.models import LEDGER_KEY_MAX_LENGTH, Account, Hold, Transfer
from wallet.money import ZERO, is_cents, is_positive_cents

SYSTEM_ACCOUNT_KINDS = {
    "clearing": Account.Kind.CLEARING,
    "fees": Account.Kind.FEES,
    "escrow": Account.Kind.ESCROW,
    "campaign": Account.Kind.CAMPAIGN,
    "merchant": Account.Kind.MERCHANT,
    "adjustment": Account.Kind.ADJUSTMENT,
    "expense": Account.Kind.EXPENSE,
}
# System accounts that may go negative and are posted to so often that they are hot. A merchant
# account is credited by every payment of a busy shop; its refunds never exceed what its orders
# paid (checked per order under the order's lock), so it cannot end below zero (docs/MERCHANTS.md).
# Accounts created before a prefix became hot stay as they were (``is_hot`` is read-only).
HOT_PREFIXES = ("clearing", "campaign", "merchant")
# Single hot accounts of a prefix that is not: red packet escrow takes every grab of a busy
# packet, and its share rows, not its balance row, bound what it pays (docs/WALLET.md).
HOT_CODES = ("escrow:redpacket",)
# Contra accounts that are debited by design: what the platform pays (channel fees) and the
# corrections finance posts. Not hot: they are posted to once per bill or per correction.
NEGATIVE_PREFIXES = (*HOT_PREFIXES, "expense", "adjustment")

_SQLSTATE_ERRORS: dict[str, type[errors.ApplicationError]] = {
    "WL001": errors.InsufficientFunds,
    "WL002": errors.AccountFrozen,
    "WL003": errors.IdempotencyConflict,
    "WL004": errors.Conflict,
    "WL005": errors.ValidationFailed,
    "WL006": errors.ValidationFailed,
}
# What a client's own request can run into; the other codes are the caller's mistakes, whose
# database message (ids and all) is what a developer needs.
_CLIENT_SQLSTATES = ("WL001", "WL002")


@dataclass(frozen=True)
class Leg:
    """One side of a posting: a positive amount credits the account, a negative one debits it."""

    account: Account | int
    amount: Decimal

    @property
    def account_id(self) -> int:
        return self.account if isinstance(self.account, int) else self.account.pk


def account_for_user(*, user: User, currency: str = "CNY") -> Account:
    """The user's wallet account in ``currency``, created on first use."""
    account, _created = Account.objects.get_or_create(
        owner=user,
        currency=currency,
        kind=Account.Kind.USER,
        defaults={"code": f"user:{user.pk}:{currency}"},
    )
    return account


def account_for_system(*, code: str, currency: str = "CNY") -> Account:
    """A system account such as ``clearing:wechat`` or ``fees``, created on first use.

    ``clearing:*``, ``campaign:*``, ``merchant:*`` and ``escrow:redpacket`` may go negative and are
    hot (never row-locked);
    ``expense:*`` and ``adjustment:*`` may go negative.
    """
    prefix = code.split(":", 1)[0]
    if prefix not in SYSTEM_ACCOUNT_KINDS:
        raise errors.ValidationFailed(
            _("Unknown system account kind in %(code)s.") % {"code": repr(code)}, fields={"code": "unknown"}
        )
    hot = prefix in HOT_PREFIXES or code in HOT_CODES
    account, _created = Account.objects.get_or_create(
        code=code,
        defaults={
            "kind": SYSTEM_ACCOUNT_KINDS[prefix],
            "currency": currency,
            "allow_negative": hot or prefix in NEGATIVE_PREFIXES,
            "is_hot": hot,
        },
    )
    return account


@transaction.atomic
def account_set_status(*, account: Account, status: str) -> Account:
    """Freeze or unfreeze an account (compliance). A frozen account refuses debits."""
    if status not in Account.Status.values:
        raise errors.ValidationFailed(
            _("Unknown account status %(status)s.") % {"status": repr(status)}, fields={"status": "invalid"}
        )
    Account.objects.filter(pk=account.pk).update(status=status)
    account.refresh_from_db()
    return account


def transfer_post(
    *,
    idempotency_key: str,
    kind: str,
    legs: Sequence[Leg],
    memo: str = "",
    reference: str = "",
) -> Transfer:
    """Post one balanced transfer. The same key again returns the first transfer unchanged;
    the same key with other legs, kind or reference raises ``IdempotencyConflict``."""
    _check_key(idempotency_key)
    accounts, amounts = _check_legs(legs)
    fingerprint = _fingerprint(kind=kind, reference=reference, accounts=accounts, amounts=amounts)
    row = _call(
        "wallet_transfer_post",
        [idempotency_key, fingerprint, kind, memo, reference, accounts, amounts],
    )
    return Transfer(
        pk=row[0],
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=kind,
        memo=memo,
        reference=reference,
        created_at=row[1],
    )


def hold_place(*, idempotency_key: str, account: Account | int, amount: Decimal, reference: str = "") -> Hold:
    """Reserve ``amount`` of the account's available balance until captured or released."""
    _check_key(idempotency_key)
    _check_positive(amount, field="amount")
    account_id = Leg(account, amount).account_id
    hold_id, created_at, status, _replayed = _call(
        "wallet_hold_place", [idempotency_key, account_id, amount, reference]
    )
    return Hold(
        pk=hold_id,
        idempotency_key=idempotency_key,
        account_id=account_id,
        amount=amount,
        status=status,
        reference=reference,
        created_at=created_at,
    )


def hold_capture(*, hold: Hold | int, destinations: Sequence[Leg], kind: str, memo: str = "") -> Transfer:
    """Move held money to ``destinations`` (positive amounts) in one transfer.

    Capturing less than the hold releases the rest. Capturing again with the same
    destinations returns the first transfer; with others, ``IdempotencyConflict``.
    """
    hold_id = hold if isinstance(hold, int) else hold.pk
    if not destinations:
        raise errors.ValidationFailed(_("A capture needs at least one destination."), fields={"destinations": "empty"})
    accounts, amounts = _check_legs(destinations, balanced=False)
    for amount in amounts:
        _check_positive(amount, field="destinations")
    key = f"hold:{hold_id}:capture"
    fingerprint = _fingerprint(kind=kind, reference=f"hold:{hold_id}", accounts=accounts, amounts=amounts)
    transfer_id, created_at, _replayed = _call(
        "wallet_hold_capture", [hold_id, key, fingerprint, kind, memo, accounts, amounts]
    )
    return Transfer(
        pk=transfer_id, idempotency_key=key, fingerprint=fingerprint, kind=kind, memo=memo, created_at=created_at
    )


def hold_release(*, hold: Hold | int) -> None:
    """Give held money back to the available balance; releasing twice is a no-op."""
    hold_id = hold if isinstance(hold, int) else hold.pk
    _call("wallet_hold_release", [hold_id])


def _call(function: str, params: list) -> tuple:
    """Run one posting function.

    Outside a transaction the single statement commits on its own: one round trip, and the
    deferred zero-sum check runs at that commit. Inside one, a savepoint keeps a refused
    posting from aborting the caller's transaction.
    """
    placeholders = ", ".join(["%s"] * len(params))
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with _translate_db_errors(), scope, connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {function}({placeholders})", params)  # noqa: S608 - fixed names
        return cursor.fetchone()


@contextmanager
def _translate_db_errors() -> Iterator[None]:
    try:
        yield
    except (DatabaseError, IntegrityError) as exc:
        cause = exc.__cause__
        sqlstate = getattr(cause, "sqlstate", None)
        error_class = _SQLSTATE_ERRORS.get(sqlstate or "")
        if error_class is None:
            raise
        if sqlstate in _CLIENT_SQLSTATES:
            # The database's message names the account's id (kept on the chained cause, for the
            # log); the client gets the error's own message, about its available balance.
            raise error_class() from exc
        diag = getattr(cause, "diag", None)
        raise error_class(diag.message_primary if diag is not None else str(exc)) from exc


def _check_key(key: str) -> None:
    if not key or len(key) > LEDGER_KEY_MAX_LENGTH:
        raise errors.ValidationFailed(
            _("An idempotency key of 1 to %(ledger_key_max_length)s characters is required.")
            % {"ledger_key_max_length": LEDGER_KEY_MAX_LENGTH},
            fields={"idempotency_key": "invalid"},
        )


def _check_positive(amount: Decimal, *, field: str) -> None:
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(
            _("%(field)s must be a positive Decimal with at most 2 places, not %(amount)s.")
            % {"field": field, "amount": repr(amount)},
            fields={field: "invalid"},
        )


def _check_legs(legs: Sequence[Leg], *, balanced: bool = True) -> tuple[list[int], list[Decimal]]:
    accounts = [leg.account_id for leg in legs]
    amounts = [leg.amount for leg in legs]
    if balanced and len(legs) < 2:
        raise errors.ValidationFailed(_("A transfer needs at least two legs."), fields={"legs": "too_few"})
    if len(set(accounts)) != len(accounts):
        raise errors.ValidationFailed(_("Each account may appear in one leg only."), fields={"legs": "duplicate"})
    for amount in amounts:
        if not isinstance(amount, Decimal) or not is_cents(amount) or amount == ZERO:
            raise errors.ValidationFailed(
                _("Leg amounts must be non-zero Decimals with at most 2 places, not %(amount)s.")
                % {"amount": repr(amount)},
                fields={"legs": "invalid_amount"},
            )
    if balanced and sum(amounts, ZERO) != ZERO:
        raise errors.ValidationFailed(_("The legs of a transfer must sum to zero."), fields={"legs": "unbalanced"})
    return accounts, amounts


def _fingerprint(*, kind: str, reference: str, accounts: list[int], amounts: list[Decimal]) -> str:
    legs = sorted(zip(accounts, (str(a) for a in amounts), strict=True))
    payload = json.dumps({"kind": kind, "reference": reference, "legs": legs}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
