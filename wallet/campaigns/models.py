"""Campaigns and the rewards they pay (docs/WALLET.md, "Campaign income").

A campaign pays from its own hot account ``campaign:<name>`` (never row-locked, may go
negative: wallet.services). A reward is accepted ``pending`` and credited later, in a batch or
when its user settles; ``credited`` is final and names the transfer that paid it.

Models refer to the ledger's by name ("wallet.Account"): wallet.models imports this module so
that Django loads it, and this module importing wallet.models back would be a loop.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from wallet.idempotency import MAX_KEY_LENGTH

# An account code is at most 64 characters: ``campaign:`` and the name.
NAME_MAX_LENGTH = 55
# A reward's token is its idempotency key: the same length rule as the Idempotency-Key header.
TOKEN_MAX_LENGTH = MAX_KEY_LENGTH


def money_field(**options) -> models.DecimalField:
    """NUMERIC(18,2), as every amount of the ledger (wallet.models.money_field)."""
    return models.DecimalField(max_digits=18, decimal_places=2, **options)


class CampaignStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    ENDED = "ended", _("Ended")


class Campaign(ConcurrentTransitionMixin, models.Model):
    """A budget that platform services pay rewards from, between ``starts_at`` and ``ends_at``."""

    Status = CampaignStatus

    name = models.SlugField(
        max_length=NAME_MAX_LENGTH, unique=True, help_text="Its account is campaign:<name>.", verbose_name=_("name")
    )
    title = models.CharField(max_length=200, help_text="Shown to users on their statement.", verbose_name=_("title"))
    account = models.OneToOneField(
        "wallet.Account", on_delete=models.PROTECT, related_name="campaign", verbose_name=_("account")
    )
    budget = money_field(help_text="Rewards accepted, credited or not, never exceed it.", verbose_name=_("budget"))
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    ends_at = models.DateTimeField(verbose_name=_("ends at"))
    status = FSMField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, protected=True, verbose_name=_("status")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(condition=Q(budget__gt=0), name="campaign_budget_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="campaign_window_not_empty"),
        ]
        triggers = [
            pgtrigger.Protect(name="campaign_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(name="campaign_identity_read_only", fields=["name", "account"]),
        ]

    def __str__(self) -> str:
        return self.name

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.ACTIVE, target=Status.PAUSED)
    def pause(self, *, by=None, description: str = "") -> None:
        """Accept no more rewards for now; accepted ones are still credited."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PAUSED, target=Status.ACTIVE)
    def resume(self, *, by=None, description: str = "") -> None:
        """Accept rewards again (inside the window)."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.ACTIVE, Status.PAUSED], target=Status.ENDED)
    def end(self, *, by=None, description: str = "") -> None:
        """Accept no more rewards, for good; accepted ones are still credited."""


class RewardStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CREDITED = "credited", _("Credited")


class Reward(models.Model):
    """Money a platform service gave a user from a campaign, keyed by its reward token.

    The status is a plain field, not a state machine with a log: rewards arrive by the million
    and are credited by the batch in one UPDATE, and the transfer that credits them is their
    log. The database keeps it honest: ``credited`` needs the transfer and is final.
    """

    Status = RewardStatus

    token = models.CharField(
        max_length=TOKEN_MAX_LENGTH, unique=True, help_text="The idempotency key, forever.", verbose_name=_("token")
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="rewards", verbose_name=_("campaign"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaign_rewards", verbose_name=_("user")
    )
    amount = money_field(verbose_name=_("amount"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    transfer = models.ForeignKey(
        "wallet.Transfer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaign_rewards",
        verbose_name=_("transfer"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    credited_at = models.DateTimeField(null=True, blank=True, verbose_name=_("credited at"))

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        permissions = [("credit_reward", "Can credit campaign rewards (platform services)")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reward_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="pending", transfer__isnull=True, credited_at__isnull=True)
                | Q(status="credited", transfer__isnull=False, credited_at__isnull=False),
                name="reward_credited_has_transfer",
            ),
        ]
        indexes = [
            # What the batch claims (oldest first) and what a user's settle locks.
            models.Index(fields=["id"], condition=Q(status="pending"), name="reward_pending_idx"),
            models.Index(fields=["user", "id"], condition=Q(status="pending"), name="reward_user_pending_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="reward_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="reward_credited_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__status="credited"),
            ),
            pgtrigger.ReadOnly(name="reward_terms_read_only", fields=["token", "campaign", "user", "amount"]),
        ]

    def __str__(self) -> str:
        return f"reward {self.token} {self.amount} {self.status}"
