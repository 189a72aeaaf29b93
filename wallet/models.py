"""Ledger tables (docs/ARCHITECTURE.md §4). Only wallet/services.py writes them; the transfers
between users and receive codes at the end are written by wallet/transfers/services.py.

The database guarantees the invariants: CHECK constraints on balances and amounts, unique
idempotency keys, a deferred constraint trigger that refuses any transfer whose entries do not
sum to zero, and triggers that refuse UPDATE/DELETE of transfers and entries and DELETE of
accounts and holds.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from wallet.idempotency import MAX_KEY_LENGTH

# A ledger key is a flow's prefix and a client's Idempotency-Key (``p2p:<user id>:<key>``), so it
# holds every client key the API accepts, with room for the prefix.
LEDGER_KEY_MAX_LENGTH = MAX_KEY_LENGTH + 64


def money_field(**options) -> models.DecimalField:
    """NUMERIC(18,2): every amount column of the ledger."""
    return models.DecimalField(max_digits=18, decimal_places=2, **options)


ZERO_SUM_CHECK = """
    IF (SELECT sum(amount) FROM wallet_entry WHERE transfer_id = NEW.transfer_id) <> 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            MESSAGE = format('transfer %s: entries do not sum to zero', NEW.transfer_id);
    END IF;
    RETURN NULL;
"""


class Account(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User wallet"
        CLEARING = "clearing", "Channel clearing"
        FEES = "fees", "Fee income"
        ESCROW = "escrow", "Escrow"
        CAMPAIGN = "campaign", "Campaign budget"
        MERCHANT = "merchant", "Merchant"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        EXPENSE = "expense", "Expense (channel fees)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FROZEN = "frozen", "Frozen by compliance"

    code = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=3, default="CNY")
    balance = money_field(default=0)
    held = money_field(default=0)
    allow_negative = models.BooleanField(default=False)
    # Hot accounts are never row-locked: postings only insert entries, and the balance is
    # derived from them (selectors.account_balance), so a busy clearing or campaign account
    # does not serialise every posting that touches it.
    is_hot = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(held__gte=0), name="account_held_not_negative"),
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance__gte=F("held")),
                name="account_available_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(is_hot=False) | (Q(allow_negative=True) & Q(held=0) & Q(balance=0)),
                name="account_hot_is_unlocked_system_account",
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"),
            models.UniqueConstraint(
                fields=["owner", "currency"], condition=Q(kind="user"), name="account_one_wallet_per_currency"
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="account_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="account_identity_read_only", fields=["code", "owner", "kind", "currency", "is_hot"]
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def available(self):
        return self.balance - self.held


class Transfer(models.Model):
    """One journal entry: immutable once written."""

    idempotency_key = models.CharField(max_length=LEDGER_KEY_MAX_LENGTH, unique=True)
    # sha256 of kind, reference and legs: a replayed key with other content is a conflict.
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    memo = models.CharField(max_length=255, blank=True, default="")
    reference = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        permissions = [("export_transfer", "Can export transfers")]
        indexes = [models.Index(fields=["-created_at", "-id"], name="transfer_created_idx")]
        triggers = [
            pgtrigger.Protect(name="transfer_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Entry(models.Model):
    """One leg of a transfer: a signed amount on one account (+ credits, - debits)."""

    # Both foreign keys are served by composite indexes below (the zero-sum trigger and
    # statements hit them), so the default single-column indexes would only slow inserts.
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount = money_field()
    # Running balance of the account after this entry; null on hot accounts, whose balance
    # is not tracked per posting.
    balance_after = money_field(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "entries"
        permissions = [("export_entry", "Can export entries")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
            models.UniqueConstraint(fields=["transfer", "account"], name="entry_one_leg_per_account"),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="entry_statement_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            pgtrigger.Trigger(
                name="entry_transfer_sums_to_zero",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                func=ZERO_SUM_CHECK,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"


class Hold(models.Model):
    """Money reserved on an account: pending raises ``account.held`` until captured or released."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"

    idempotency_key = models.CharField(max_length=LEDGER_KEY_MAX_LENGTH, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = money_field()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=64, blank=True, default="", db_index=True)
    capture_transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="captured_hold"
    )
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="captured", capture_transfer__isnull=False)
                | Q(status__in=["pending", "released"], capture_transfer__isnull=True),
                name="hold_capture_has_transfer",
            ),
        ]
        indexes = [
            models.Index(fields=["account"], condition=Q(status="pending"), name="hold_pending_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="hold_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="hold_final_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__status__in=["captured", "released"]),
            ),
            pgtrigger.ReadOnly(name="hold_terms_read_only", fields=["idempotency_key", "account", "amount"]),
        ]

    def __str__(self) -> str:
        return f"hold #{self.pk} {self.amount} {self.status}"


class ReceiveCode(models.Model):
    """A user's payment QR: whoever pays it sends money to ``owner`` (docs/WALLET.md).

    ``amount`` is fixed when set, chosen by the payer when empty. The token shown in the QR is
    signed and carries the id and expiry (wallet.transfers.codes); the row says whether the code
    is still good: not revoked, not expired, and for a single-use code not paid yet (a unique
    index on the transfers that paid it).
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="receive_codes")
    amount = money_field(null=True, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    memo = models.CharField(max_length=255, blank=True, default="")
    single_use = models.BooleanField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        permissions = [("revoke_receivecode", "Can revoke receive codes")]
        indexes = [models.Index(fields=["owner", "-created_at", "-id"], name="receive_code_owner_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gt=0), name="receive_code_amount"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="receive_code_expires_later"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="receive_code_revocation_recorded",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="receive_code_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="receive_code_terms_read_only",
                fields=["owner", "amount", "currency", "memo", "single_use", "expires_at", "created_at"],
            ),
        ]

    def __str__(self) -> str:
        return f"receive code #{self.pk}"


class PeerTransfer(ConcurrentTransitionMixin, models.Model):
    """Money one user sends another (docs/WALLET.md): posted at once, or held on the sender's
    wallet while it waits for review. The ledger rows it made reference it as ``p2p:<id>``."""

    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        UNDER_REVIEW = "under_review", "Under review"
        REJECTED = "rejected", "Rejected"

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_sent")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_received")
    amount = money_field()
    currency = models.CharField(max_length=3, default="CNY")
    memo = models.CharField(max_length=255, blank=True, default="")
    status = FSMField(max_length=16, choices=Status.choices, protected=True)
    idempotency_key = models.CharField(max_length=255)
    # sha256 of the request's content: the same key with another content is a conflict.
    request_fingerprint = models.CharField(max_length=64)
    receive_code = models.ForeignKey(
        ReceiveCode, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    # Copied from the code so the database can refuse a second payment of a single-use one.
    receive_code_single_use = models.BooleanField(default=False)
    # What the transfer guard recorded of its decision (risk: ``risk_evaluation:<id>``).
    guard_reference = models.CharField(max_length=64)
    ledger_transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="peer_transfer"
    )
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="peer_transfer")
    status_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("review_peertransfer", "Can approve or reject transfers held for review")]
        indexes = [
            models.Index(fields=["sender", "-created_at"], name="peer_transfer_sender_idx"),
            models.Index(fields=["sender", "recipient"], name="peer_transfer_pair_idx"),
            models.Index(fields=["created_at"], condition=Q(status="under_review"), name="peer_transfer_review_idx"),
            # The dashboard's days of posted transfers (config.dashboard), read from the index alone.
            models.Index(fields=["status", "created_at"], include=["amount"], name="peer_transfer_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="peer_transfer_amount_positive"),
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="peer_transfer_not_to_self"),
            models.CheckConstraint(
                condition=Q(status="posted", ledger_transfer__isnull=False)
                | Q(status__in=["under_review", "rejected"], ledger_transfer__isnull=True, hold__isnull=False),
                name="peer_transfer_money_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(receive_code__isnull=False) | Q(receive_code_single_use=False),
                name="peer_transfer_single_use_needs_code",
            ),
            models.UniqueConstraint(fields=["sender", "idempotency_key"], name="peer_transfer_key_per_sender"),
            # A single-use code is paid once: a second payment, concurrent or not, cannot insert.
            models.UniqueConstraint(
                fields=["receive_code"],
                condition=Q(receive_code_single_use=True) & ~Q(status="rejected"),
                name="peer_transfer_single_use_code_paid_once",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="peer_transfer_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="peer_transfer_terms_read_only",
                fields=[
                    "sender",
                    "recipient",
                    "amount",
                    "currency",
                    "memo",
                    "idempotency_key",
                    "request_fingerprint",
                    "receive_code",
                    "receive_code_single_use",
                    "guard_reference",
                    "hold",
                    "created_at",
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"transfer #{self.pk}"

    # Transitions: each checks its guard and changes state; wallet.transfers.services does the rest.

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.UNDER_REVIEW, target=Status.POSTED, permission="wallet.review_peertransfer")
    def approve(self, *, by=None, description: str = "") -> None:
        self.reviewed_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(
        field=status, source=Status.UNDER_REVIEW, target=Status.REJECTED, permission="wallet.review_peertransfer"
    )
    def reject(self, *, by=None, description: str = "") -> None:
        self.status_reason = description
        self.reviewed_at = timezone.now()


# Django loads an app's models from its models module: the campaigns' are gathered here.
from wallet.campaigns.models import Campaign, Reward  # noqa: E402, F401
from wallet.exports.models import ExportJob  # noqa: E402, F401

# Django loads the wallet app's models from this module: the capabilities built on the ledger
# keep theirs in their own package (docs/ARCHITECTURE.md §2). Imported last, because they refer
# to the ledger's tables above.
from wallet.redpackets.models import (  # noqa: E402, F401
    ChatGroup,
    ChatGroupMember,
    RedPacket,
    RedPacketShare,
    RedPacketTransition,
)
