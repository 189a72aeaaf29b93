"""Locks of campaigns (docs/WALLET.md, "Campaign income").

Lock order: a campaign's budget lock (advisory), then reward rows in id order, then ledger
accounts (which the wallet's posting function locks in id order). The batch and a user's
settle both follow it, so they never deadlock: the batch skips reward rows others hold, and
the settle waits for them before it touches any account.
"""

from django.db import connection
from django.db.models import QuerySet

from wallet.campaigns.models import Campaign, Reward

# First key of pg_advisory_xact_lock(int, int): "a campaign's budget counter" (second: its id).
BUDGET_LOCK = 0x4342  # "CB"


def campaign_lock(pk: int) -> Campaign:
    return Campaign.objects.select_for_update(of=("self",)).get(pk=pk)


def budget_share_lock(campaign_id: int) -> None:
    """Held by every accept until its commit or rollback: many at once, never beside a recount."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [BUDGET_LOCK, campaign_id])


def budget_exclusive_lock(campaign_id: int) -> None:
    """Held by a recount: waits for every accept in flight to finish, and holds new ones back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BUDGET_LOCK, campaign_id])


def pending_rewards_claim(*, limit: int) -> list[Reward]:
    """Up to ``limit`` pending rewards, oldest first, locked; rows another batch or a settle
    holds are skipped, and so are rewards of a frozen campaign account (its debit would fail)."""
    rewards: QuerySet[Reward] = (
        Reward.objects.filter(status=Reward.Status.PENDING)
        .exclude(campaign_id__in=_frozen_campaign_ids())
        .order_by("pk")
        .select_for_update(of=("self",), skip_locked=True)
    )
    return list(rewards[:limit])


def user_pending_rewards_lock(*, user_id: int) -> list[Reward]:
    """The user's pending rewards, locked in id order; waits for those a batch holds (and then
    leaves out the ones it credited), so what follows sees every reward not yet credited."""
    rewards = (
        Reward.objects.filter(user_id=user_id, status=Reward.Status.PENDING)
        .exclude(campaign_id__in=_frozen_campaign_ids())
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return list(rewards)


def _frozen_campaign_ids() -> list[int]:
    """Campaigns whose account compliance froze. Read apart, as a list (almost always empty),
    so the claim is a plain walk of the pending index in id order, never a join and a sort of
    every pending reward."""
    return list(Campaign.objects.filter(account__status="frozen").values_list("pk", flat=True))
