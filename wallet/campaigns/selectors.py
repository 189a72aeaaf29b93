"""Read queries of campaigns: what a campaign has paid out and promised, and rewards."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from wallet.campaigns.models import Campaign, Reward
from wallet.models import Entry
from wallet.money import ZERO


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
    debits = Entry.objects.filter(account_id=campaign.account_id, amount__lt=0).aggregate(total=Sum("amount"))
    pending = campaign.rewards.filter(status=Reward.Status.PENDING).aggregate(total=Sum("amount"))
    return Spending(budget=campaign.budget, paid_out=-(debits["total"] or ZERO), pending=pending["total"] or ZERO)


def campaign_accepted_total(*, campaign_id: int) -> Decimal:
    """Every reward the campaign accepted, credited or not: what its budget counter holds."""
    return Reward.objects.filter(campaign_id=campaign_id).aggregate(total=Sum("amount"))["total"] or ZERO


def campaigns_to_recount() -> QuerySet[Campaign]:
    """Campaigns that may still accept rewards (ended ones' counters no longer matter)."""
    return Campaign.objects.filter(~Q(status=Campaign.Status.ENDED)).order_by("pk")


def user_has_pending_rewards(*, user_id: int) -> bool:
    return Reward.objects.filter(user_id=user_id, status=Reward.Status.PENDING).exists()
