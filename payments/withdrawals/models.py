"""Payout accounts and withdrawals (docs/WITHDRAWALS.md).

A withdrawal's status is a protected django-fsm field: it changes only through the transition
methods below, each called by a service in payments/withdrawals/services.py that holds the row
lock, moves the money and logs the transition (django-fsm-log) with its actor and reason.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from payments import encryption
from payments.channels.models import Channel, PayoutAccountKind
from payments.transition_logs import TransitionLogManager
from wallet.idempotency import MAX_KEY_LENGTH
from wallet.models import Hold, money_field


class PayoutAccount(models.Model):
    """Where a user's withdrawals go. Identifiers are sealed (payments.encryption) and shown
    masked; ``lookup_index`` is the blind index that finds an account by its number."""

    # Associated data of each sealed column: a ciphertext moved to another column fails to open.
    OPENID = "payout_account.openid"
    CARD_NUMBER = "payout_account.card_number"
    HOLDER_NAME = "payout_account.holder_name"
    ALIPAY_LOGIN = "payout_account.alipay_login_id"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_accounts", verbose_name=_("user")
    )
    kind = models.CharField(max_length=16, choices=PayoutAccountKind.choices, verbose_name=_("kind"))
    openid_sealed = models.TextField(blank=True, verbose_name=_("openid sealed"))
    card_number_sealed = models.TextField(blank=True, verbose_name=_("card number sealed"))
    # The holder's name of a card, or the real name Alipay checks against an Alipay login id.
    holder_name_sealed = models.TextField(blank=True, verbose_name=_("holder name sealed"))
    alipay_login_sealed = models.TextField(blank=True, verbose_name=_("alipay login sealed"))
    bank_code = models.CharField(max_length=16, blank=True, verbose_name=_("bank code"))
    lookup_index = models.CharField(max_length=64, db_index=True, verbose_name=_("lookup index"))
    masked_number = models.CharField(max_length=64, verbose_name=_("masked number"))
    masked_holder = models.CharField(max_length=64, blank=True, verbose_name=_("masked holder"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("payout account")
        verbose_name_plural = _("payout accounts")
        constraints = [
            models.UniqueConstraint(fields=["user", "lookup_index"], name="payout_account_bound_once_per_user"),
            models.CheckConstraint(
                condition=(
                    Q(kind="wechat_openid")
                    & ~Q(openid_sealed="")
                    & Q(card_number_sealed="")
                    & Q(alipay_login_sealed="")
                )
                | (
                    Q(kind="bank_card")
                    & ~Q(card_number_sealed="")
                    & ~Q(bank_code="")
                    & Q(openid_sealed="")
                    & Q(alipay_login_sealed="")
                )
                | (
                    Q(kind="alipay")
                    & ~Q(alipay_login_sealed="")
                    & ~Q(holder_name_sealed="")
                    & Q(openid_sealed="")
                    & Q(card_number_sealed="")
                    & Q(bank_code="")
                ),
                name="payout_account_fields_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        return (
            f"{self.bank_code} {self.masked_number}" if self.kind == PayoutAccountKind.BANK_CARD else self.masked_number
        )

    @property
    def identifier(self) -> str:
        """The decrypted openid, card number or Alipay login id: for the payout request, never
        for display."""
        if self.kind == PayoutAccountKind.BANK_CARD:
            return encryption.unseal(self.card_number_sealed, field=self.CARD_NUMBER)
        if self.kind == PayoutAccountKind.ALIPAY:
            return encryption.unseal(self.alipay_login_sealed, field=self.ALIPAY_LOGIN)
        return encryption.unseal(self.openid_sealed, field=self.OPENID)

    @property
    def holder_name(self) -> str:
        if not self.holder_name_sealed:
            return ""
        return encryption.unseal(self.holder_name_sealed, field=self.HOLDER_NAME)


class WithdrawalStatus(models.TextChoices):
    PENDING = "pending", _("Pending review")
    APPROVED = "approved", _("Approved")
    PROCESSING = "processing", _("Processing")
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


def approvals_complete(withdrawal: models.Model) -> bool:
    """Guard of ``approve``: every approval the risk evaluation asked for is recorded, and of
    two approvals (four eyes) at least one is a supervisor's."""
    if not isinstance(withdrawal, Withdrawal):
        return False
    given = list(withdrawal.approvals.values_list("as_supervisor", flat=True))
    return len(given) >= withdrawal.approvals_required and (withdrawal.approvals_required == 1 or any(given))


class Withdrawal(ConcurrentTransitionMixin, models.Model):
    """Money leaving a wallet for a payout account; the hold reserves ``amount`` until the end."""

    Status = WithdrawalStatus
    # Statuses whose money never left and is (or will be) released: they use no amount limit.
    RELEASED_STATUSES = (Status.CANCELLED, Status.REJECTED, Status.FAILED)

    order_no = models.CharField(max_length=32, unique=True, verbose_name=_("order no"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("user")
    )
    payout_account = models.ForeignKey(
        PayoutAccount, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("payout account")
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="withdrawals", verbose_name=_("channel")
    )
    amount = money_field(verbose_name=_("amount"))
    fee = money_field(verbose_name=_("fee"))
    actual_amount = money_field(verbose_name=_("actual amount"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.PENDING, protected=True, verbose_name=_("status")
    )
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, verbose_name=_("idempotency key"))
    # sha256 of the request's content: the same key with another content is a conflict.
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="withdrawal", verbose_name=_("hold"))
    risk_evaluation = models.OneToOneField(
        "risk.RiskEvaluation", on_delete=models.PROTECT, related_name="withdrawal", verbose_name=_("risk evaluation")
    )
    approvals_required = models.PositiveSmallIntegerField(default=1, verbose_name=_("approvals required"))
    # The latest reason given: the rejection, cancellation or failure; the log keeps them all.
    status_reason = models.CharField(max_length=500, blank=True, verbose_name=_("status reason"))
    failure_code = models.CharField(max_length=64, blank=True, verbose_name=_("failure code"))
    channel_reference = models.CharField(max_length=64, blank=True, verbose_name=_("channel reference"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    dispatched_at = models.DateTimeField(null=True, blank=True, verbose_name=_("dispatched at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    # Set by the sweep when the order is still not final four hours after submission.
    escalated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("escalated at"))

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        permissions = [
            ("approve_withdrawal", "Can approve or reject withdrawals"),
            ("export_withdrawal", "Can export withdrawals"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="withdrawal_idempotency_key_per_user"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="withdrawal_fee_not_negative"),
            models.CheckConstraint(condition=Q(actual_amount__gt=0), name="withdrawal_actual_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount=F("fee") + F("actual_amount")), name="withdrawal_amount_is_fee_plus_actual"
            ),
            models.CheckConstraint(condition=Q(approvals_required__in=[1, 2]), name="withdrawal_approvals_1_or_2"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="withdrawal_user_created_idx"),
            models.Index(fields=["status", "created_at"], name="withdrawal_status_created_idx"),
            # Reconciliation: a channel's payouts finished in a day.
            models.Index(
                fields=["channel", "finished_at"],
                condition=Q(status__in=["success", "refunded"]),
                name="withdrawal_channel_paid_idx",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="withdrawal_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="withdrawal_terms_read_only",
                fields=[
                    "order_no",
                    "user",
                    "payout_account",
                    "channel",
                    "amount",
                    "fee",
                    "actual_amount",
                    "currency",
                    "idempotency_key",
                    "request_fingerprint",
                    "hold",
                    "risk_evaluation",
                    "approvals_required",
                ],
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    # Transitions: each checks its guard and changes state; services do the rest.

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status,
        source=Status.PENDING,
        target=Status.APPROVED,
        conditions=[approvals_complete],
        permission="payments.approve_withdrawal",
    )
    def approve(self, *, by=None, description: str = "") -> None:
        self.approved_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.REJECTED, permission="payments.approve_withdrawal")
    def reject(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.PENDING, Status.APPROVED], target=Status.CANCELLED)
    def cancel(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.APPROVED, target=Status.PROCESSING)
    def dispatch(self, *, by=None, description: str = "") -> None:
        self.dispatched_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PROCESSING, target=Status.SUCCESS)
    def succeed(self, *, by=None, description: str = "") -> None:
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PROCESSING, target=Status.FAILED)
    def fail(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.SUCCESS, target=Status.REFUNDED)
    def reverse(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()


class WithdrawalApproval(models.Model):
    """One staff member's approval; a withdrawal at or above the four-eyes threshold needs two."""

    withdrawal = models.ForeignKey(
        Withdrawal, on_delete=models.PROTECT, related_name="approvals", verbose_name=_("withdrawal")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("actor")
    )
    as_supervisor = models.BooleanField(default=False, verbose_name=_("as supervisor"))
    note = models.CharField(max_length=500, blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("withdrawal approval")
        verbose_name_plural = _("withdrawal approvals")
        constraints = [
            models.UniqueConstraint(fields=["withdrawal", "actor"], name="withdrawal_approval_once_per_actor"),
        ]
        triggers = [
            pgtrigger.Protect(name="withdrawal_approval_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.withdrawal_id} approved by {self.actor_id}"


class WithdrawalTransition(StateLog):
    """The django-fsm-log rows of withdrawals, as their own admin page and export for auditors."""

    objects: models.Manager["WithdrawalTransition"] = TransitionLogManager("withdrawal")

    class Meta:
        verbose_name = _("withdrawal transition")
        verbose_name_plural = _("withdrawal transitions")
        proxy = True
        permissions = [("export_withdrawaltransition", "Can export withdrawal transitions")]
