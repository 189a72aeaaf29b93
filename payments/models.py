"""Channels, payout accounts and withdrawals (DESIGN §5, §6).

A withdrawal's status is a protected django-fsm field: it changes only through the transition
methods below, each called by a service in payments/services.py that holds the row lock, moves
the money and logs the transition (django-fsm-log) with its actor and reason.
"""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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
    ALIPAY = "alipay", "Alipay (RSA2)"


class PaymentMethod(models.TextChoices):
    """Mirrors ``channels.base.PaymentMethod``, the adapters' vocabulary."""

    WECHAT_JSAPI = "wechat_jsapi", "WeChat JSAPI (inside WeChat)"
    WECHAT_APP = "wechat_app", "WeChat in-app"
    WECHAT_H5 = "wechat_h5", "WeChat H5 (mobile browser)"
    WECHAT_NATIVE = "wechat_native", "WeChat native (QR code)"
    ALIPAY_APP = "alipay_app", "Alipay in-app"
    ALIPAY_PAGE = "alipay_page", "Alipay page (desktop)"
    ALIPAY_WAP = "alipay_wap", "Alipay wap (mobile browser)"
    BALANCE = "balance", "Wallet balance"


class ClientType(models.TextChoices):
    """Where the payer is: it decides which methods can work at all (``METHOD_CLIENT_TYPES``)."""

    APP = "app", "Our mobile app"
    WEB = "web", "Desktop browser"
    MOBILE_WEB = "mobile_web", "Mobile browser"
    WECHAT = "wechat", "Inside WeChat (official account, mini program)"


METHOD_CLIENT_TYPES: dict[str, tuple[str, ...]] = {
    PaymentMethod.WECHAT_JSAPI: (ClientType.WECHAT,),
    PaymentMethod.WECHAT_APP: (ClientType.APP,),
    PaymentMethod.WECHAT_H5: (ClientType.MOBILE_WEB,),
    PaymentMethod.WECHAT_NATIVE: (ClientType.WEB, ClientType.APP, ClientType.MOBILE_WEB),
    PaymentMethod.ALIPAY_APP: (ClientType.APP,),
    PaymentMethod.ALIPAY_PAGE: (ClientType.WEB,),
    PaymentMethod.ALIPAY_WAP: (ClientType.MOBILE_WEB, ClientType.WECHAT),
    PaymentMethod.BALANCE: tuple(ClientType.values),
}


class Channel(models.Model):
    """A payment channel's settings, kept by finance supervisors in the admin (operations switch
    it on and off); credentials live in the environment, never here."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    # Which payout accounts the channel pays out to; blank for channels that only collect.
    payout_account_kind = models.CharField(max_length=16, choices=PayoutAccountKind.choices, blank=True)
    # Which payment methods it collects by, for which clients; empty for channels that only pay out.
    payment_methods = ArrayField(
        models.CharField(max_length=16, choices=PaymentMethod.choices), default=list, blank=True
    )
    client_types = ArrayField(models.CharField(max_length=16, choices=ClientType.choices), default=list, blank=True)
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
        permissions = [("switch_channel", "Can switch channels on and off")]
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


class TransitionLogManager(models.Manager):
    """The django-fsm-log rows of one payments model (StateLog keeps every model's in one table)."""

    def __init__(self, model_name: str) -> None:
        super().__init__()
        self.model_name = model_name

    def get_queryset(self):
        return super().get_queryset().filter(content_type__app_label="payments", content_type__model=self.model_name)


class WithdrawalTransition(StateLog):
    """The django-fsm-log rows of withdrawals, as their own admin page and export for auditors."""

    objects: models.Manager["WithdrawalTransition"] = TransitionLogManager("withdrawal")

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


class BusinessType(models.TextChoices):
    RECHARGE = "recharge", "Wallet recharge"
    ORDER_PAYMENT = "order_payment", "Order payment"


class PaymentOrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # created; the channel has not opened it (yet)
    PAYING = "paying", "Paying"  # open at the channel: waiting for the payer
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"  # the channel refused to open it: nothing can be paid
    CLOSED = "closed", "Closed"  # expired or closed unpaid


class PaymentOrder(ConcurrentTransitionMixin, models.Model):
    """Money coming in: a wallet recharge or the payment of a business order, by a channel or
    by the wallet balance (DESIGN §5). Each transition is logged with django-fsm-log; each
    exchange with the channel is a ``PaymentEvent``."""

    Status = PaymentOrderStatus
    OPEN_STATUSES = (Status.PENDING, Status.PAYING)

    order_no = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_orders")
    business_type = models.CharField(max_length=16, choices=BusinessType.choices)
    # The business system's own order; blank for recharges.
    business_order_no = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_orders")
    client_type = models.CharField(max_length=16, choices=ClientType.choices)
    subject = models.CharField(max_length=128)
    amount = money_field()
    currency = models.CharField(max_length=3, default="CNY")
    # What the channel charges for collecting it (routing compares it; reconciliation checks it).
    fee = money_field(default=Decimal("0.00"))
    # Where an order payment's money goes; null for recharges (the payer's own wallet).
    merchant_account = models.ForeignKey(
        "wallet.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The merchant and app the channel opened it for: a notify naming others is refused.
    channel_merchant_id = models.CharField(max_length=64, blank=True)
    channel_app_id = models.CharField(max_length=64, blank=True)
    status = FSMField(max_length=16, choices=Status.choices, default=Status.PENDING, protected=True)
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    return_url = models.URLField(max_length=500, blank=True)
    # What the client needs to pay (code_url, pay_url, app_params, prepay_id): no secrets.
    pay_params = models.JSONField(default=dict, blank=True)
    transaction_id = models.CharField(max_length=64, blank=True)
    refunded_amount = money_field(default=Decimal("0.00"))
    status_reason = models.CharField(max_length=500, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    # The expiry sweep leaves the order alone until then (its channel did not answer the close).
    next_check_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("export_paymentorder", "Can export payment orders"),
            ("sync_paymentorder", "Can re-query and close payment orders"),
            # The merchant's side (its business system's service account), never the payer.
            ("refund_paymentorder", "Can refund order payments"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="payment_order_idempotency_key_per_user"),
            # One open or paid payment per business order of a user: it can never be paid twice.
            models.UniqueConstraint(
                fields=["user", "business_type", "business_order_no"],
                condition=~Q(business_order_no="") & Q(status__in=["pending", "paying", "success"]),
                name="payment_order_one_live_per_business_order",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_order_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_order_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(method="balance", channel__isnull=True) | (~Q(method="balance") & Q(channel__isnull=False)),
                name="payment_order_channel_unless_balance",
            ),
            models.CheckConstraint(
                condition=Q(business_type="recharge", merchant_account__isnull=True, business_order_no="")
                | Q(business_type="order_payment", merchant_account__isnull=False) & ~Q(business_order_no=""),
                name="payment_order_business_fields",
            ),
            models.CheckConstraint(
                condition=~Q(business_type="recharge", method="balance"), name="payment_order_no_balance_recharge"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="payment_order_user_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["pending", "paying"]),
                name="payment_order_open_expiry_idx",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="payment_order_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="payment_order_terms_read_only",
                fields=[
                    "order_no",
                    "user",
                    "business_type",
                    "business_order_no",
                    "method",
                    "channel",
                    "amount",
                    "currency",
                    "merchant_account",
                    "channel_merchant_id",
                    "channel_app_id",
                    "idempotency_key",
                    "request_fingerprint",
                ],
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.PAYING)
    def start(self, *, by=None, description: str = "") -> None:
        """The channel opened it (or, for the balance, the debit is under way)."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.PENDING, Status.PAYING], target=Status.SUCCESS)
    def succeed(self, *, by=None, description: str = "") -> None:
        self.paid_at = self.paid_at or timezone.now()
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.PENDING, Status.PAYING], target=Status.FAILED)
    def fail(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=[Status.PENDING, Status.PAYING], target=Status.CLOSED)
    def close(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


class Refund(ConcurrentTransitionMixin, models.Model):
    """Part or all of a paid order payment going back: to the original channel, or to the
    wallet for balance payments. A hold on the merchant account reserves the amount until the
    channel answers; the ledger moves on success only."""

    Status = RefundStatus

    refund_no = models.CharField(max_length=32, unique=True)
    payment_order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()
    currency = models.CharField(max_length=3, default="CNY")
    reason = models.CharField(max_length=200, blank=True)
    status = FSMField(max_length=16, choices=Status.choices, default=Status.PENDING, protected=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="refund")
    channel_refund_id = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("export_refund", "Can export refunds"), ("sync_refund", "Can re-query refunds")]
        constraints = [
            # Keys are the caller's, as on every other request: another merchant account's key
            # never replays this refund.
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"], name="refund_idempotency_key_per_caller"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="refund_status_created_idx")]
        triggers = [
            pgtrigger.Protect(name="refund_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="refund_terms_read_only",
                fields=[
                    "refund_no",
                    "payment_order",
                    "amount",
                    "currency",
                    "requested_by",
                    "idempotency_key",
                    "request_fingerprint",
                    "hold",
                ],
            ),
        ]

    def __str__(self) -> str:
        return self.refund_no

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.PROCESSING)
    def process(self, *, by=None, description: str = "") -> None:
        self.sent_at = timezone.now()

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


class PaymentEvent(models.Model):
    """One exchange with a channel about a payment or refund, kept for audit: what we asked,
    what it answered, what it notified, and what we did with it. Payloads are masked.

    Events whose ``outcome`` is ``applied`` are the ones that moved money, with their amount:
    summed, they rebuild each order's paid and refunded totals (``selectors.payment_totals``).
    """

    class Kind(models.TextChoices):
        REQUEST = "request", "Request to the channel"
        ANSWER = "answer", "Answer from the channel"
        NOTIFY = "notify", "Notify from the channel"
        BALANCE = "balance", "Wallet balance movement"

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        RECEIVED = "received", "Received, nothing to change"
        APPLIED = "applied", "Applied (moved money or state)"
        DUPLICATE = "duplicate", "Already applied"
        REFUSED = "refused", "Refused (forged, unknown or contradicting)"
        ERROR = "error", "No readable answer"

    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment_order = models.ForeignKey(
        PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    # The order or refund number as the channel gave it, also when we know no such thing.
    reference = models.CharField(max_length=64, blank=True)
    operation = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # The channel's state of the thing (paid, closed, success ...), when it said one.
    state = models.CharField(max_length=32, blank=True)
    amount = money_field(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("export_paymentevent", "Can export payment events")]
        indexes = [
            models.Index(fields=["payment_order", "created_at"], name="payment_event_order_idx"),
            models.Index(fields=["refund", "created_at"], name="payment_event_refund_idx"),
            models.Index(fields=["outcome", "created_at"], name="payment_event_outcome_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="payment_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.kind} {self.reference}: {self.outcome}"


class PaymentTransition(StateLog):
    """The transition log of payment orders, for auditors."""

    objects: models.Manager["PaymentTransition"] = TransitionLogManager("paymentorder")

    class Meta:
        proxy = True
        permissions = [("export_paymenttransition", "Can export payment transitions")]


class RefundTransition(StateLog):
    """The transition log of refunds, for auditors."""

    objects: models.Manager["RefundTransition"] = TransitionLogManager("refund")

    class Meta:
        proxy = True
        permissions = [("export_refundtransition", "Can export refund transitions")]
