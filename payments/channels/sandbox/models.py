"""The sandbox's own books: its keys, the payouts it made, every request it saw, and the
scenarios it was told to play."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Protocol(models.TextChoices):
    WECHAT_V3 = "wechat_v3", "WeChat Pay v3 merchant transfer"
    WECHAT_V2 = "wechat_v2", "WeChat Pay v2 enterprise payment"
    BANK = "bank", "Bank card payout gateway"


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

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no} {self.state}"


class SandboxHit(models.Model):
    """Every payout request that reached the sandbox, for rate and double-send checks."""

    protocol = models.CharField(max_length=16, choices=Protocol.choices)
    order_no = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.protocol} {self.order_no} at {self.received_at}"
