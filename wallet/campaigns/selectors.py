"""Read queries of campaigns: what a campaign has paid out and promised, and rewards."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from wallet.campaigns.models import Campaign, Reward
from wallet.models import Entry
from wallet.money import ZERO

ZERO_MONEY = Value(ZERO, output_field=DecimalField(max_digits=18, decimal_places=2))


@dataclass(frozen=True)
class Spending:
    """Of the budget: what the campaign's account paid out (the ledger), what is accepted but
    not yet credited (pending rewards), and what is left."""

    budget: Decimal
    paid_out: Decimal
    pending: Decimal

    @property
    def spent(self) -> Decimal:
        return self.paid_out + self.pending

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent

    @property
    def percent(self) -> int:
        """Of the budget spent or promised, 0 to 100 (for the admin's bar)."""
        return max(0, min(100, int(self.spent * 100 / self.budget))) if self.budget > ZERO else 100


def campaign_spending(*, campaign: Campaign) -> Spending:
    """From the annotations of ``campaigns_with_spending`` when the campaign came from there."""
    row: Any = campaign if hasattr(campaign, "paid_out_total") else campaigns_with_spending().get(pk=campaign.pk)
    return Spending(budget=row.budget, paid_out=row.paid_out_total, pending=row.pending_total)


def campaigns_with_spending() -> QuerySet[Campaign]:
    """Campaigns annotated with ``paid_out_total`` (the debits of their account, from the ledger)
    and ``pending_total`` (rewards accepted, not yet credited): one query for a page of them."""
    debits = (
        Entry.objects.filter(account_id=OuterRef("account_id"), amount__lt=0)
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    pending = (
        Reward.objects.filter(campaign_id=OuterRef("pk"), status=Reward.Status.PENDING)
        .values("campaign_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Campaign.objects.annotate(
        paid_out_total=-Coalesce(Subquery(debits), ZERO_MONEY),
        pending_total=Coalesce(Subquery(pending), ZERO_MONEY),
    )


def campaign_accepted_total(*, campaign_id: int) -> Decimal:
    """Every reward the campaign accepted, credited or not: what its budget counter holds."""
    return Reward.objects.filter(campaign_id=campaign_id).aggregate(total=Sum("amount"))["total"] or ZERO


def campaigns_to_recount() -> QuerySet[Campaign]:
    """Campaigns that may still accept rewards (ended ones' counters no longer matter)."""
    return Campaign.objects.filter(~Q(status=Campaign.Status.ENDED)).order_by("pk")


def user_has_pending_rewards(*, user_id: int) -> bool:
    return Reward.objects.filter(user_id=user_id, status=Reward.Status.PENDING).exists()
