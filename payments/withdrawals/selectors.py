"""Read queries of withdrawals: a user's own payout accounts and orders, their history for the
risk rules, and who may approve an order now."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from payments.order_numbers import is_order_no
from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalStatus
from risk import selectors as risk_selectors
from wallet import errors
from wallet.money import ZERO

SUPERVISOR_GROUP = "finance_supervisor"


@dataclass(frozen=True)
class WithdrawalHistory:
    """Per window: how many withdrawals the user created, and the amount of those still live."""

    counts: dict[str, int]
    amounts: dict[str, Decimal]


def withdrawal_history(*, user_id: int, since: dict[str, datetime]) -> WithdrawalHistory:
    """One aggregate query over the user's withdrawals for every window start in ``since``.

    Every order counts toward the count limits; cancelled, rejected and failed ones give their
    money back, so they do not count toward the amount limits.
    """
    live = ~Q(status__in=Withdrawal.RELEASED_STATUSES)
    aggregates: dict = {}
    for name, start in since.items():
        aggregates[f"count_{name}"] = Count("id", filter=Q(created_at__gte=start))
        aggregates[f"amount_{name}"] = Sum("amount", filter=Q(created_at__gte=start) & live)
    row = Withdrawal.objects.filter(user_id=user_id, created_at__gte=min(since.values())).aggregate(**aggregates)
    return WithdrawalHistory(
        counts={name: row[f"count_{name}"] for name in since},
        amounts={name: row[f"amount_{name}"] or ZERO for name in since},
    )


def payout_accounts_for_user(*, user: User) -> QuerySet[PayoutAccount]:
    return PayoutAccount.objects.filter(user=user).order_by("-created_at", "-id")


def payout_account_for_user(*, user: User, payout_account_id: int) -> PayoutAccount | None:
    return PayoutAccount.objects.filter(user=user, pk=payout_account_id).first()


def withdrawals_for_user(*, user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(user=user).select_related("payout_account", "channel")


def withdrawal_for_user(*, user: User, order_no: str) -> Withdrawal | None:
    """The user's own withdrawal; another user's order number finds nothing."""
    if not is_order_no(order_no):
        return None
    return withdrawals_for_user(user=user).filter(order_no=order_no).first()


def is_supervisor(user: User) -> bool:
    return user.groups.filter(name=SUPERVISOR_GROUP).exists()


def withdrawal_approval_refusal(*, withdrawal: Withdrawal, actor: User) -> errors.ApplicationError | None:
    """Why ``actor`` may not approve ``withdrawal`` now, or None when they may.

    The admin asks before it offers the button; the service asks again under the row lock.
    """
    if withdrawal.status != WithdrawalStatus.PENDING:
        return errors.Conflict(
            _("Withdrawal %(order_no)s is %(status)s; only pending withdrawals can be approved.")
            % {"order_no": withdrawal.order_no, "status": withdrawal.status},
            fields={"status": withdrawal.status},
        )
    if not actor.has_perm("payments.approve_withdrawal"):
        return errors.PermissionDenied(_("You may not approve withdrawals."))
    if withdrawal.user_id == actor.pk:
        return errors.PermissionDenied(_("Nobody approves their own withdrawal."))
    given = dict(withdrawal.approvals.values_list("actor_id", "as_supervisor"))
    if actor.pk in given:
        return errors.PermissionDenied(
            _("You already approved %(order_no)s; the second approval must come from someone else.")
            % {"order_no": withdrawal.order_no}
        )
    # Four eyes: two people, at least one of them a supervisor, in either order.
    is_last = len(given) + 1 >= withdrawal.approvals_required
    supervised = any(given.values()) or is_supervisor(actor)
    if withdrawal.approvals_required > 1 and is_last and not supervised:
        return errors.PermissionDenied(
            _("The second approval of %(order_no)s must come from a finance supervisor.")
            % {"order_no": withdrawal.order_no}
        )
    # Compliance may have blocklisted the user or the card since the submission.
    blocked = risk_selectors.blocklist_matches(
        user_id=withdrawal.user_id, fingerprint=withdrawal.payout_account.lookup_index
    )
    if blocked.user or blocked.payout_account:
        return errors.RiskRejected(
            _("%(order_no)s was blocklisted after it was submitted (%(items)s): reject it.")
            % {"order_no": withdrawal.order_no, "items": blocked.user or blocked.payout_account},
            fields={"risk_rule": "user_blocked" if blocked.user else "payout_account_blocked"},
        )
    return None
