"""Payment orders (recharges and order payments), their refunds and every exchange with a
channel about them (docs/PAYMENTS.md)."""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description
from django_fsm_log.models import StateLog

from payments.channels.models import Channel, ClientType, PaymentMethod
from payments.transition_logs import TransitionLogManager
from wallet.idempotency import MAX_KEY_LENGTH
from wallet.models import Hold, money_field


class BusinessType(models.TextChoices):
    RECHARGE = "recharge", _("Wallet recharge")
    ORDER_PAYMENT = "order_payment", _("Order payment")


class PaymentOrderStatus(models.TextChoices):
    # Created by the merchant, waiting for the payer to choose how to pay (no method yet).
    AWAITING = "awaiting", _("Awaiting the payer")
    PENDING = "pending", _("Pending")  # created; the channel has not opened it (yet)
    PAYING = "paying", _("Paying")  # open at the channel: waiting for the payer
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")  # the channel refused to open it: nothing can be paid
    CLOSED = "closed", _("Closed")  # expired or closed unpaid
    REVERSED = "reversed", _("Reversed")  # booked as paid, but the channel never collected it: taken back


class PaymentOrder(ConcurrentTransitionMixin, models.Model):
    """Money coming in: a wallet recharge or the payment of a business order, by a channel or
    by the wallet balance (docs/ARCHITECTURE.md §5). Each transition is logged with django-fsm-log; each
    exchange with the channel is a ``PaymentEvent``."""

    Status = PaymentOrderStatus
    OPEN_STATUSES = (Status.AWAITING, Status.PENDING, Status.PAYING)
    # An order in these holds its business order: another one for it is refused.
    LIVE_STATUSES = (*OPEN_STATUSES, Status.SUCCESS)

    order_no = models.CharField(max_length=32, unique=True, verbose_name=_("order no"))
    # The payer.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_orders", verbose_name=_("user")
    )
    # The merchant that created the order payment (docs/MERCHANTS.md); null for recharges and
    # for order payments made before merchants (they settle to ``merchant_account`` all the same).
    merchant = models.ForeignKey(
        "payments.Merchant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment_orders",
        verbose_name=_("merchant"),
    )
    # Where this order's merchant events go instead of the merchant's own URL; blank: the merchant's.
    notify_url = models.URLField(max_length=500, blank=True, verbose_name=_("notify url"))
    business_type = models.CharField(max_length=16, choices=BusinessType.choices, verbose_name=_("business type"))
    # The business system's own order; blank for recharges.
    business_order_no = models.CharField(max_length=64, blank=True, verbose_name=_("business order no"))
    # Blank while ``awaiting``: the payer chooses it.
    method = models.CharField(max_length=16, choices=PaymentMethod.choices, blank=True, verbose_name=_("method"))
    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment_orders",
        verbose_name=_("channel"),
    )
    client_type = models.CharField(max_length=16, choices=ClientType.choices, blank=True, verbose_name=_("client type"))
    subject = models.CharField(max_length=128, verbose_name=_("subject"))
    amount = money_field(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    # What the channel charges for collecting it (routing compares it; reconciliation checks it).
    fee = money_field(default=Decimal("0.00"), verbose_name=_("fee"))
    # Where an order payment's money goes; null for recharges (the payer's own wallet).
    merchant_account = models.ForeignKey(
        "wallet.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("merchant account"),
    )
    # The merchant and app the channel opened it for: a notify naming others is refused.
    channel_merchant_id = models.CharField(max_length=64, blank=True, verbose_name=_("channel merchant id"))
    channel_app_id = models.CharField(max_length=64, blank=True, verbose_name=_("channel app id"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.PENDING, protected=True, verbose_name=_("status")
    )
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, verbose_name=_("idempotency key"))
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    client_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("client ip"))
    return_url = models.URLField(max_length=500, blank=True, verbose_name=_("return url"))
    # What the client needs to pay (code_url, pay_url, app_params, prepay_id): no secrets.
    pay_params = models.JSONField(default=dict, blank=True, verbose_name=_("pay params"))
    transaction_id = models.CharField(max_length=64, blank=True, verbose_name=_("transaction id"))
    refunded_amount = money_field(default=Decimal("0.00"), verbose_name=_("refunded amount"))
    status_reason = models.CharField(max_length=500, blank=True, verbose_name=_("status reason"))
    failure_code = models.CharField(max_length=64, blank=True, verbose_name=_("failure code"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    # The expiry sweep leaves the order alone until then (its channel did not answer the close).
    next_check_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next check at"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("payment order")
        verbose_name_plural = _("payment orders")
        permissions = [
            ("export_paymentorder", "Can export payment orders"),
            ("sync_paymentorder", "Can re-query and close payment orders"),
        ]
        constraints = [
            # Keys are the caller's: the payer's for a recharge, the merchant's for its orders.
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(merchant__isnull=True),
                name="payment_order_idempotency_key_per_user",
            ),
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=Q(merchant__isnull=False),
                name="payment_order_idempotency_key_per_merchant",
            ),
            # One open or paid payment per business order: it can never be paid twice. A merchant's
            # business orders are its own; those made before merchants were the payer's.
            models.UniqueConstraint(
                fields=["user", "business_type", "business_order_no"],
                condition=~Q(business_order_no="")
                & Q(status__in=["pending", "paying", "success"], merchant__isnull=True),
                name="payment_order_one_live_per_business_order",
            ),
            models.UniqueConstraint(
                fields=["merchant", "business_order_no"],
                condition=Q(merchant__isnull=False, status__in=["awaiting", "pending", "paying", "success"]),
                name="payment_order_one_live_per_merchant_order",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_order_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_order_refunded_within_amount",
            ),
            # Awaiting (or closed before the payer chose): no method, no channel. Otherwise a
            # channel unless paid from the balance.
            models.CheckConstraint(
                condition=Q(status__in=["awaiting", "closed"], method="", client_type="", channel__isnull=True)
                | ~Q(status="awaiting")
                & (
                    Q(method="balance", channel__isnull=True)
                    | (~Q(method__in=["balance", ""]) & Q(channel__isnull=False))
                ),
                name="payment_order_channel_unless_balance",
            ),
            # Only a merchant's order payment waits for its payer; a recharge has no merchant.
            models.CheckConstraint(
                condition=~Q(status="awaiting") | Q(merchant__isnull=False),
                name="payment_order_awaiting_has_merchant",
            ),
            models.CheckConstraint(
                condition=Q(merchant__isnull=True) | Q(business_type="order_payment"),
                name="payment_order_merchant_pays_orders",
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
            # Reconciliation: a channel's payments of a day.
            models.Index(
                fields=["channel", "paid_at"], condition=Q(status="success"), name="payment_order_channel_paid_idx"
            ),
            # The dashboard's days (config.dashboard), read from the index alone, and the
            # changelist's newest first.
            models.Index(
                fields=["created_at"],
                include=["status", "business_type", "channel", "amount"],
                name="payment_order_created_idx",
            ),
            # Open orders by status and age: the hourly escalation and the dashboard's stuck orders.
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status__in=["awaiting", "pending", "paying"]),
                name="payment_order_open_created_idx",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="payment_order_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="payment_order_terms_read_only",
                fields=[
                    "order_no",
                    "user",
                    "merchant",
                    "notify_url",
                    "business_type",
                    "business_order_no",
                    "amount",
                    "currency",
                    "merchant_account",
                    "idempotency_key",
                    "request_fingerprint",
                ],
            ),
            # How it is paid is chosen by the payer while it awaits them (and given back when the
            # channel did not take it); once it left ``awaiting`` for good it never changes.
            pgtrigger.Protect(
                name="payment_order_means_read_only",
                operation=pgtrigger.Update,
                condition=(
                    pgtrigger.Q(old__method__df=pgtrigger.F("new__method"))
                    | pgtrigger.Q(old__channel__df=pgtrigger.F("new__channel"))
                    | pgtrigger.Q(old__client_type__df=pgtrigger.F("new__client_type"))
                    | pgtrigger.Q(old__channel_merchant_id__df=pgtrigger.F("new__channel_merchant_id"))
                    | pgtrigger.Q(old__channel_app_id__df=pgtrigger.F("new__channel_app_id"))
                )
                & ~pgtrigger.Q(old__status="awaiting")
                & ~pgtrigger.Q(new__status="awaiting"),
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.AWAITING, target=Status.PENDING)
    def choose(self, *, by=None, description: str = "") -> None:
        """The payer chose how to pay: the method (and channel) are set by the service."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.PENDING, target=Status.AWAITING)
    def give_back(self, *, by=None, description: str = "") -> None:
        """The channel refused or did not take it before opening it: the payer may choose again."""
        self.method = ""
        self.channel = None
        self.client_type = ""
        self.channel_merchant_id = ""
        self.channel_app_id = ""
        self.fee = Decimal("0.00")
        self.status_reason = description

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
    @transition(field=status, source=[Status.AWAITING, Status.PENDING, Status.PAYING], target=Status.CLOSED)
    def close(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.finished_at = timezone.now()

    # Reconciliation applies the channel's bill when it contradicts us (docs/RECONCILIATION.md).

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status, source=[Status.PENDING, Status.PAYING, Status.CLOSED, Status.FAILED], target=Status.SUCCESS
    )
    def recover(self, *, by=None, description: str = "") -> None:
        """The channel collected it after all (paid after close): credit it as paid."""
        self.paid_at = self.paid_at or timezone.now()
        self.finished_at = timezone.now()
        self.status_reason = description

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.SUCCESS, target=Status.REVERSED)
    def reverse(self, *, by=None, description: str = "") -> None:
        """Booked as paid, but the channel never collected it."""
        self.finished_at = timezone.now()
        self.status_reason = description


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")


class Refund(ConcurrentTransitionMixin, models.Model):
    """Part or all of a paid order payment going back: to the original channel, or to the
    wallet for balance payments. The request moves the amount from the merchant account to
    ``escrow:refunds``; success pays it out of escrow, failure gives it back to the merchant
    (docs/MERCHANTS.md, "Refunds"). Refunds requested before that reserved with a ``hold``."""

    Status = RefundStatus

    refund_no = models.CharField(max_length=32, unique=True, verbose_name=_("refund no"))
    payment_order = models.ForeignKey(
        PaymentOrder, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment order")
    )
    amount = money_field(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    reason = models.CharField(max_length=200, blank=True, verbose_name=_("reason"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.PENDING, protected=True, verbose_name=_("status")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, verbose_name=_("idempotency key"))
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    # Only refunds requested before the escrow: a hold on the merchant account.
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="refund", verbose_name=_("hold")
    )
    channel_refund_id = models.CharField(max_length=64, blank=True, verbose_name=_("channel refund id"))
    failure_code = models.CharField(max_length=64, blank=True, verbose_name=_("failure code"))
    status_reason = models.CharField(max_length=500, blank=True, verbose_name=_("status reason"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        permissions = [("export_refund", "Can export refunds"), ("sync_refund", "Can re-query refunds")]
        constraints = [
            # Keys are the caller's, as on every other request: another merchant account's key
            # never replays this refund.
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"], name="refund_idempotency_key_per_caller"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="refund_status_created_idx"),
            # Reconciliation: the refunds finished in a day.
            models.Index(fields=["finished_at"], condition=Q(status="success"), name="refund_success_finished_idx"),
        ]
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
        REQUEST = "request", _("Request to the channel")
        ANSWER = "answer", _("Answer from the channel")
        NOTIFY = "notify", _("Notify from the channel")
        BALANCE = "balance", _("Wallet balance movement")

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RECEIVED = "received", _("Received, nothing to change")
        APPLIED = "applied", _("Applied (moved money or state)")
        DUPLICATE = "duplicate", _("Already applied")
        REFUSED = "refused", _("Refused (forged, unknown or contradicting)")
        ERROR = "error", _("No readable answer")

    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    payment_order = models.ForeignKey(
        PaymentOrder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("payment order"),
    )
    refund = models.ForeignKey(
        Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="events", verbose_name=_("refund")
    )
    # The order or refund number as the channel gave it, also when we know no such thing.
    reference = models.CharField(max_length=64, blank=True, verbose_name=_("reference"))
    operation = models.CharField(max_length=32, verbose_name=_("operation"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    # The channel's state of the thing (paid, closed, success ...), when it said one.
    state = models.CharField(max_length=32, blank=True, verbose_name=_("state"))
    amount = money_field(null=True, blank=True, verbose_name=_("amount"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    message = models.CharField(max_length=500, blank=True, verbose_name=_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
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
        verbose_name = _("payment transition")
        verbose_name_plural = _("payment transitions")
        proxy = True
        permissions = [("export_paymenttransition", "Can export payment transitions")]


class RefundTransition(StateLog):
    """The transition log of refunds, for auditors."""

    objects: models.Manager["RefundTransition"] = TransitionLogManager("refund")

    class Meta:
        verbose_name = _("refund transition")
        verbose_name_plural = _("refund transitions")
        proxy = True
        permissions = [("export_refundtransition", "Can export refund transitions")]
