"""Rules as data, the decisions log and the blocklist (docs/ARCHITECTURE.md §2, §5).

Rules are rows so operations can switch the withdrawal window or the staged rollout and move
limits without a deploy. Every evaluation is stored, append-only, with the facts and the hits
it was decided on. Blocklist entries are deactivated, never deleted, and keep who added and
who removed them.
"""

import re

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from risk.kinds import (
    FLOW_KINDS,
    PARAMETER_FIELDS,
    PARAMETERS,
    REVIEW_ONLY_KINDS,
    Action,
    Flow,
    Kind,
    Period,
    RefusalCode,
)

# Twelve or more digits, spaced or not, look like a card number: labels are masked.
CARD_NUMBER = re.compile(r"(?:\d[ -]?){12,}")


def _kind_fits_flow() -> Q:
    condition = Q()
    for flow, kinds in FLOW_KINDS.items():
        condition |= Q(flow=flow, kind__in=kinds)
    return condition


def _parameters_match_kind() -> Q:
    """Each kind has exactly its parameters set (the evaluation relies on it)."""
    condition = Q()
    for kind, wanted in PARAMETERS.items():
        condition |= Q(kind=kind, **{f"{name}__isnull": name not in wanted for name in PARAMETER_FIELDS})
    return condition


class RiskRule(models.Model):
    """One rule of a flow (withdrawals or transfers); which parameters it reads depends on its
    kind (risk.rules)."""

    Kind = Kind
    Action = Action
    Flow = Flow

    code = models.SlugField(max_length=64, unique=True, verbose_name=_("code"))
    flow = models.CharField(
        max_length=16, choices=Flow.choices, default=Flow.WITHDRAWAL, db_default=Flow.WITHDRAWAL, verbose_name=_("flow")
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.REJECT, verbose_name=_("action"))
    priority = models.IntegerField(
        help_text="Lower runs first and decides which refusal is reported.", verbose_name=_("priority")
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True, verbose_name=_("amount"))
    count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("count"))
    # NULL, not "", like the other parameters: "not used by this kind" reads the same everywhere.
    period = models.CharField(max_length=8, choices=Period.choices, null=True, blank=True, verbose_name=_("period"))  # noqa: DJ001
    closed_from = models.TimeField(
        null=True, blank=True, help_text="Local time the window closes.", verbose_name=_("closed from")
    )
    closed_until = models.TimeField(
        null=True, blank=True, help_text="Local time it opens again.", verbose_name=_("closed until")
    )
    percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], verbose_name=_("percent")
    )
    message = models.CharField(
        max_length=255, help_text="Shown to the user and to reviewers.", verbose_name=_("message")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")
        ordering = ("priority", "id")
        permissions = [("switch_riskrule", "Can switch the withdrawal window and the staged rollout")]
        constraints = [
            models.CheckConstraint(condition=_parameters_match_kind(), name="risk_rule_parameters_match_kind"),
            models.CheckConstraint(condition=_kind_fits_flow(), name="risk_rule_kind_fits_flow"),
            models.CheckConstraint(
                condition=~Q(kind__in=REVIEW_ONLY_KINDS) | Q(action=Action.REVIEW), name="risk_rule_review_only_kinds"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="risk_rule_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gte=0, percent__lte=100),
                name="risk_rule_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(closed_from__isnull=True) | ~Q(closed_from=models.F("closed_until")),
                name="risk_rule_window_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        wanted = PARAMETERS.get(self.kind, ())
        errors: dict[str, str] = {}
        for name in PARAMETER_FIELDS:
            is_set = getattr(self, name) is not None
            if name in wanted and not is_set:
                errors[name] = f"Required for a {self.get_kind_display()} rule."
            elif name not in wanted and is_set:
                errors[name] = f"Not used by a {self.get_kind_display()} rule; leave it empty."
        if self.kind not in FLOW_KINDS.get(self.flow, ()):
            errors["kind"] = f"A {self.get_flow_display()} rule cannot be a {self.get_kind_display()} rule."
        if self.kind in REVIEW_ONLY_KINDS and self.action != Action.REVIEW:
            errors["action"] = f"A {self.get_kind_display()} rule can only send to review."
        if self.amount is not None and self.amount <= 0 and "amount" not in errors:
            errors["amount"] = "Must be greater than zero."
        if self.closed_from is not None and self.closed_from == self.closed_until:
            errors["closed_until"] = "The window must not open when it closes."
        if errors:
            raise ValidationError(errors)


class RiskEvaluation(models.Model):
    """The decision on one withdrawal submission or transfer, with its facts and hits; append-only."""

    class Outcome(models.TextChoices):
        ALLOW = "allow", _("Allow")
        REVIEW = "review", _("Review")
        REJECT = "reject", _("Reject")

    RefusalCode = RefusalCode
    Flow = Flow

    flow = models.CharField(
        max_length=16, choices=Flow.choices, default=Flow.WITHDRAWAL, db_default=Flow.WITHDRAWAL, verbose_name=_("flow")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risk_evaluations", verbose_name=_("user")
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, verbose_name=_("amount"))
    outcome = models.CharField(max_length=8, choices=Outcome.choices, verbose_name=_("outcome"))
    approvals_required = models.PositiveSmallIntegerField(verbose_name=_("approvals required"))
    refusal_code = models.CharField(
        max_length=32, choices=RefusalCode.choices, blank=True, default="", verbose_name=_("refusal code")
    )
    refusal_message = models.CharField(max_length=255, blank=True, default="", verbose_name=_("refusal message"))
    hits = models.JSONField(default=list, verbose_name=_("hits"))
    inputs = models.JSONField(default=dict, verbose_name=_("inputs"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("risk evaluation")
        verbose_name_plural = _("risk evaluations")
        indexes = [models.Index(fields=["user", "created_at"], name="risk_evaluation_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="reject", approvals_required=0) & ~Q(refusal_code="")
                | Q(outcome__in=["allow", "review"], approvals_required__gte=1, refusal_code=""),
                name="risk_evaluation_refusal_iff_rejected",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="risk_evaluation_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"evaluation #{self.pk} {self.outcome}"

    @property
    def reasons(self) -> list[str]:
        return [hit["message"] for hit in self.hits]


class BlocklistEntry(models.Model):
    """A user or a payout account (by blind index) refused by risk control while active."""

    class Kind(models.TextChoices):
        USER = "user", _("User")
        PAYOUT_ACCOUNT = "payout_account", _("Payout account")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="risk_blocklist",
        verbose_name=_("user"),
    )
    fingerprint = models.CharField(max_length=64, blank=True, default="", verbose_name=_("fingerprint"))
    label = models.CharField(
        max_length=128,
        validators=[RegexValidator(CARD_NUMBER, "Mask the card number.", inverse_match=True)],
        help_text="Masked, e.g. ICBC ****1234.",
        verbose_name=_("label"),
    )
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("removed by"),
    )
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))

    class Meta:
        verbose_name = _("blocklist entry")
        verbose_name_plural = _("blocklist entries")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="user", user__isnull=False, fingerprint="")
                | (Q(kind="payout_account", user__isnull=True) & ~Q(fingerprint="")),
                name="blocklist_target_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(active=True, removed_at__isnull=True, removed_by__isnull=True)
                | Q(active=False, removed_at__isnull=False, removed_by__isnull=False),
                name="blocklist_removal_recorded",
            ),
            models.UniqueConstraint(
                fields=["kind", "user"], condition=Q(active=True, kind="user"), name="blocklist_one_active_user"
            ),
            models.UniqueConstraint(
                fields=["kind", "fingerprint"],
                condition=Q(active=True, kind="payout_account"),
                name="blocklist_one_active_payout_account",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="blocklist_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="blocklist_removed_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__active=False),
            ),
            pgtrigger.ReadOnly(
                name="blocklist_target_read_only",
                fields=["kind", "user", "fingerprint", "label", "reason", "created_by", "created_at"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label}"
