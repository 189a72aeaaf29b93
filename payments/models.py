"""Channels, payout accounts and withdrawals (DESIGN §5, §6).

A withdrawal's status is a protected django-fsm field: it changes only through the transition
methods below, each called by a service in payments/services.py that holds the row lock, moves
the money and logs the transition (django-fsm-log) with its actor and reason.
"""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from payments import encryption
from wallet.models import Hold, money_field
from wallet.money import quantize


class PayoutAccountKind(models.TextChoices):
    WECHAT_OPENID = "wechat_openid", "WeChat wallet (openid)"
    BANK_CARD = "bank_card", "Bank card"


class ChannelAdapter(models.TextChoices):
    WECHAT_V3 = "wechat_v3", "WeChat Pay v3"
    WECHAT_V2 = "wechat_v2", "WeChat Pay v2 (legacy merchants)"
    BANK = "bank", "Bank payout gateway"


class Channel(models.Model):
    """A payment channel's settings, kept by operations in the admin; credentials live in the
    environment, never here."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    # Which payout accounts the channel pays out to; blank for channels that only collect.
    payout_account_kind = models.CharField(max_length=16, choices=PayoutAccountKind.choices, blank=True)
    fee_rate = models.DecimalField(max_digits=7, decimal_places=6, default=Decimal("0.001"))
    fee_min = money_field(default=Decimal("0.10"))
    fee_max = money_field(default=Decimal("5.00"))
    min_amount = money_field(null=True, blank=True)
    max_amount = money_field(null=True, blank=True)
    # Lower wins between channels that cost the same.
    priority = models.PositiveSmallIntegerField(default=100)
    # Which adapter speaks to it (payments.channels.registry), and how many payout requests a
    # second all workers together may send it.
    adapter = models.CharField(max_length=16, choices=ChannelAdapter.choices)
    rate_limit_per_second = models.PositiveIntegerField(default=50)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(fee_rate__gte=0) & Q(fee_rate__lt=1), name="channel_fee_rate_range"),
            models.CheckConstraint(
                condition=Q(fee_min__gte=0) & Q(fee_max__gte=F("fee_min")), name="channel_fee_bounds_ordered"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(max_amount__isnull=True) | Q(max_amount__gte=F("min_amount")),
                name="channel_amount_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def fee_for(self, amount: Decimal) -> Decimal:
        """Rate times amount, rounded half up to cents, clamped to [fee_min, fee_max]."""
        return min(max(quantize(amount * self.fee_rate), self.fee_min), self.fee_max)

    def admits(self, amount: Decimal) -> bool:
        return (self.min_amount is None or amount >= self.min_amount) and (
            self.max_amount is None or amount <= self.max_amount
        )


class PayoutAccount(models.Model):
    """Where a user's withdrawals go. Identifiers are sealed (payments.encryption) and shown
    masked; ``lookup_index`` is the blind index that finds an account by its number."""

    # Associated data of each sealed column: a ciphertext moved to another column fails to open.
    OPENID = "payout_account.openid"
    CARD_NUMBER = "payout_account.card_number"
    HOLDER_NAME = "payout_account.holder_name"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_accounts")
    kind = models.CharField(max_length=16, choices=PayoutAccountKind.choices)
    openid_sealed = models.TextField(blank=True)
    card_number_sealed = models.TextField(blank=True)
    holder_name_sealed = models.TextField(blank=True)
    bank_code = models.CharField(max_length=16, blank=True)
    lookup_index = models.CharField(max_length=64, db_index=True)
    masked_number = models.CharField(max_length=64)
    masked_holder = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lookup_index"], name="payout_account_bound_once_per_user"),
            models.CheckConstraint(
                condition=(Q(kind="wechat_openid") & ~Q(openid_sealed="") & Q(card_number_sealed=""))
                | (Q(kind="bank_card") & ~Q(card_number_sealed="") & ~Q(bank_code="") & Q(openid_sealed="")),
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
        """The decrypted openid or card number: for the payout request, never for display."""
        if self.kind == PayoutAccountKind.BANK_CARD:
            return encryption.unseal(self.card_number_sealed, field=self.CARD_NUMBER)
        return encryption.unseal(self.openid_sealed, field=self.OPENID)

    @property
    def holder_name(self) -> str:
        if not self.holder_name_sealed:
            return ""
        return encryption.unseal(self.holder_name_sealed, field=self.HOLDER_NAME)


class WithdrawalStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    PROCESSING = "processing", "Processing"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


def approvals_complete(withdrawal: models.Model) -> bool:
    """Guard of ``approve``: every approval the risk evaluation asked for is recorded."""
    if not isinstance(withdrawal, Withdrawal):
        return False
    return withdrawal.approvals.count() >= withdrawal.approvals_required


class Withdrawal(ConcurrentTransitionMixin, models.Model):
    """Money leaving a wallet for a payout account; the hold reserves ``amount`` until the end."""

    Status = WithdrawalStatus
    # Statuses whose money never left and is (or will be) released: they use no amount limit.
    RELEASED_STATUSES = (Status.CANCELLED, Status.REJECTED, Status.FAILED)

    order_no = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    payout_account = models.ForeignKey(PayoutAccount, on_delete=models.PROTECT, related_name="withdrawals")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="withdrawals")
    amount = money_field()
    fee = money_field()
    actual_amount = money_field()
    currency = models.CharField(max_length=3, default="CNY")
    status = FSMField(max_length=16, choices=Status.choices, default=Status.PENDING, protected=True)
    idempotency_key = models.CharField(max_length=255)
    # sha256 of the request's content: the same key with another content is a conflict.
    request_fingerprint = models.CharField(max_length=64)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="withdrawal")
    risk_evaluation = models.OneToOneField("risk.RiskEvaluation", on_delete=models.PROTECT, related_name="withdrawal")
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # The latest reason given: the rejection, cancellation or failure; the log keeps them all.
    status_reason = models.CharField(max_length=500, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    channel_reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by the sweep when the order is still not final four hours after submission.
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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

    # Transitions: each checks its guard and changes state; services do the rest (CONVENTIONS).

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

    withdrawal = models.ForeignKey(Withdrawal, on_delete=models.PROTECT, related_name="approvals")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    as_supervisor = models.BooleanField(default=False)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["withdrawal", "actor"], name="withdrawal_approval_once_per_actor"),
        ]
        triggers = [
            pgtrigger.Protect(name="withdrawal_approval_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.withdrawal_id} approved by {self.actor_id}"


class WithdrawalTransitionManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(content_type__app_label="payments", content_type__model="withdrawal")


class WithdrawalTransition(StateLog):
    """The django-fsm-log rows of withdrawals, as their own admin page and export for auditors."""

    objects: models.Manager["WithdrawalTransition"] = WithdrawalTransitionManager()

    class Meta:
        proxy = True
        permissions = [("export_withdrawaltransition", "Can export withdrawal transitions")]


class DeadLetter(models.Model):
    """A task that kept failing after its retries: operations look at it and retry it (DESIGN §7)."""

    task = models.CharField(max_length=128)
    args = models.JSONField(default=list)
    withdrawal = models.ForeignKey(
        Withdrawal, null=True, blank=True, on_delete=models.PROTECT, related_name="dead_letters"
    )
    error = models.TextField()
    attempts = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        permissions = [("retry_deadletter", "Can retry dead letters")]
        indexes = [models.Index(fields=["retried_at", "created_at"], name="dead_letter_open_idx")]

    def __str__(self) -> str:
        return f"{self.task}{self.args}"


class UserNotification(models.Model):
    """What we told a user about their money; ``sent_at`` is set once the sender delivered it."""

    class Kind(models.TextChoices):
        WITHDRAWAL_SUCCEEDED = "withdrawal_succeeded", "Withdrawal paid out"
        WITHDRAWAL_FAILED = "withdrawal_failed", "Withdrawal failed"
        WITHDRAWAL_RETURNED = "withdrawal_returned", "Withdrawal returned by the bank"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference = models.CharField(max_length=64)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"
