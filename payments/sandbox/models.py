"""The sandbox's own books: its keys, the payouts, payments and refunds it made (with the fee it
charged on each), every payout request it saw, and the scenarios it was told to play, the
differences of its bills included."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Protocol(models.TextChoices):
    WECHAT_V3 = "wechat_v3", "WeChat Pay v3 merchant transfer"
    WECHAT_V2 = "wechat_v2", "WeChat Pay v2 enterprise payment"
    BANK = "bank", "Bank card payout gateway"
    ALIPAY = "alipay", "Alipay (RSA2)"


class Scenario(models.TextChoices):
    SUCCEED = "succeed", "Pay and answer success"
    PROCESS = "process", "Accept, and report success later by notify"
    FAIL = "fail", "Refuse with a failure code"
    TIMEOUT = "timeout", "Answer nothing until the client has given up (nothing paid)"
    SERVER_ERROR = "server_error", "Answer 500 (nothing paid)"
    DROP_RESPONSE = "drop_response", "Pay, then answer something unreadable"
    SLOW = "slow", "Pay and answer success after a delay within the client's patience"
    DUPLICATE_NOTIFY = "duplicate_notify", "Pay and notify three times"
    LATE_NOTIFY = "late_notify", "Accept, and notify success only after a delay"
    RETURN = "return", "Pay, then have the payee's bank return the money (a bounce)"


class SandboxKeys(models.Model):
    """Both sides' credentials of one protocol, generated on first use: the merchant half goes
    to our adapter, the channel half stays here."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices, unique=True)
    secrets = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.protocol} keys"


class SandboxRule(models.Model):
    """What to do with the next payouts: for one order number, or (blank) for any order."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64, blank=True)
    scenario = models.CharField(max_length=16, choices=Scenario.choices)
    failure_code = models.CharField(max_length=64, blank=True)
    delay_seconds = models.FloatField(default=0)
    # How many more requests the rule applies to; null for every one.
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["protocol", "order_no"], name="sandbox_rule_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no or '*'}: {self.scenario}"


class SandboxPayout(models.Model):
    """One payout as the channel saw it. Unique per merchant order number: asking again returns
    this row, never a second payment."""

    class State(models.TextChoices):
        PROCESSING = "processing", "Processing"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        RETURNED = "returned", "Returned by the bank"

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64)
    channel_reference = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    payee_masked = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices)
    # What the channel charged when it paid (fees.py); none on a failed payout.
    fee = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    failure_code = models.CharField(max_length=64, blank=True)
    scenario = models.CharField(max_length=16, choices=Scenario.choices)
    requests = models.PositiveIntegerField(default=1)
    notify_url = models.URLField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order_no"], name="sandbox_payout_once_per_order"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_payout_amount_positive"),
        ]
        indexes = [models.Index(fields=["protocol", "finished_at"], name="sandbox_payout_bill_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no} {self.state}"


class SandboxHit(models.Model):
    """Every payout request that reached the sandbox, for rate and double-send checks."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no} at {self.received_at}"


class PaymentScenario(models.TextChoices):
    """What the payer and the channel do with the next payments (and refunds) of an order."""

    PAY_NOW = "pay_now", "The payer pays at once; notify"
    PAY_LATE = "pay_late", "The payer pays after the delay (default 60 s); notify then"
    NEVER_PAY = "never_pay", "The payer never pays (the sandbox cashier page can still pay)"
    DUPLICATE_NOTIFY = "duplicate_notify", "Pay at once; notify three times"
    WRONG_AMOUNT_NOTIFY = "wrong_amount_notify", "Pay at once; notify a different amount, correctly signed"
    BAD_SIGNATURE_NOTIFY = "bad_signature_notify", "Pay at once; notify with a broken signature"
    PAID_WITHOUT_NOTIFY = "paid_without_notify", "Pay at once; never notify (only a query finds out)"
    REFUND_SUCCEED = "refund_succeed", "Refund: succeed at once; notify"
    REFUND_PROCESS = "refund_process", "Refund: accept, succeed after the delay (default 1 s); notify then"
    REFUND_FAIL = "refund_fail", "Refund: accept, then fail (closed or refused by the channel); notify"


REFUND_SCENARIOS = (PaymentScenario.REFUND_SUCCEED, PaymentScenario.REFUND_PROCESS, PaymentScenario.REFUND_FAIL)


class SandboxPaymentRule(models.Model):
    """What to do with the next payments or refunds: for one merchant order number (a refund's
    rule names the payment's order number), or (blank) for any order."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64, blank=True)
    scenario = models.CharField(max_length=32, choices=PaymentScenario.choices)
    delay_seconds = models.FloatField(default=0)
    # How many more payments (or refunds) the rule applies to; null for every one.
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["protocol", "order_no"], name="sandbox_payment_rule_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no or '*'}: {self.scenario}"


class SandboxPayment(models.Model):
    """A payment as the channel saw it, one per merchant order number (``out_trade_no``)."""

    class State(models.TextChoices):
        NOT_PAID = "not_paid", "Waiting for the payer"
        PAID = "paid", "Paid"
        CLOSED = "closed", "Closed"

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64)
    transaction_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    subject = models.CharField(max_length=256)
    method = models.CharField(max_length=16)
    # The payer's openid or Alipay account, masked; blank until someone paid (or for JSAPI, given).
    payer_masked = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NOT_PAID)
    # What the collecting channel charged when the payer paid (fees.py).
    fee = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    scenario = models.CharField(max_length=32, choices=PaymentScenario.choices)
    notify_url = models.URLField(max_length=300, blank=True)
    requests = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order_no"], name="sandbox_payment_once_per_order"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["protocol", "paid_at"], name="sandbox_payment_bill_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no} {self.state}"


class SandboxRefund(models.Model):
    """A refund as the channel saw it, one per merchant refund number (``out_refund_no``)."""

    class State(models.TextChoices):
        PROCESSING = "processing", "Processing"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    payment = models.ForeignKey(SandboxPayment, on_delete=models.PROTECT, related_name="refunds")
    refund_no = models.CharField(max_length=64)
    refund_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    state = models.CharField(max_length=16, choices=State.choices)
    # The part of the payment's fee given back when the refund succeeded: negative (fees.py).
    fee = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    scenario = models.CharField(max_length=32, choices=PaymentScenario.choices)
    notify_url = models.URLField(max_length=300, blank=True)
    requests = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["protocol", "refund_no"], name="sandbox_refund_once_per_number"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sandbox_refund_amount_positive"),
        ]
        indexes = [models.Index(fields=["protocol", "finished_at"], name="sandbox_refund_bill_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.refund_no} {self.state}"


class BillKind(models.TextChoices):
    """Which bill of a day (docs/RECONCILIATION.md, "Bill formats")."""

    TRADE = "trade", "Trade bill (payments and refunds)"
    PAYOUT = "payout", "Payout bill (fund flow, bank bill)"


class BillDifference(models.TextChoices):
    """How a served bill departs from the sandbox's books (bill_rules.py)."""

    MISSING = "missing", "A line is missing"
    EXTRA = "extra", "An extra line, for an order number the back-office never made"
    WRONG_AMOUNT = "wrong_amount", "A line's amount is 0.01 more"
    WRONG_STATUS = "wrong_status", "A successful line says failed"
    WRONG_FEE = "wrong_fee", "A line's fee is 0.01 more"
    NEXT_DAY = "next_day", "A line is in the next day's bill, just after midnight"
    NOT_READY = "not_ready", "The bill is not published yet"


class SandboxBillRule(models.Model):
    """How the next bills of a protocol, kind and day differ from the books: for the line of one
    order number (ours: a payment's, refund's or payout's), or (blank) the first line that
    qualifies."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    bill_kind = models.CharField(max_length=8, choices=BillKind.choices)
    bill_date = models.DateField()
    difference = models.CharField(max_length=16, choices=BillDifference.choices)
    order_no = models.CharField(max_length=64, blank=True)
    # How many more bills the rule changes; null for every one.
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["protocol", "bill_kind", "bill_date"], name="sandbox_bill_rule_idx")]

    def __str__(self) -> str:
        return f"{self.protocol} {self.bill_kind} {self.bill_date} {self.order_no or '*'}: {self.difference}"
