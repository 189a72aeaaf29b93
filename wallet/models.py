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
from django.utils.translation import gettext_lazy as _
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
        USER = "user", _("User wallet")
        CLEARING = "clearing", _("Channel clearing")
        FEES = "fees", _("Fee income")
        ESCROW = "escrow", _("Escrow")
        CAMPAIGN = "campaign", _("Campaign budget")
        MERCHANT = "merchant", _("Merchant")
        ADJUSTMENT = "adjustment", _("Manual adjustment")
        EXPENSE = "expense", _("Expense (channel fees)")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen by compliance")

    code = models.CharField(max_length=64, unique=True, verbose_name=_("code"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        verbose_name=_("owner"),
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    balance = money_field(default=0, verbose_name=_("balance"))
    held = money_field(default=0, verbose_name=_("held"))
    allow_negative = models.BooleanField(default=False, verbose_name=_("allow negative"))
    # Hot accounts are never row-locked: postings only insert entries, and the balance is
    # derived from them (selectors.account_balance), so a busy clearing or campaign account
    # does not serialise every posting that touches it.
    is_hot = models.BooleanField(default=False, verbose_name=_("is hot"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
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

    idempotency_key = models.CharField(max_length=LEDGER_KEY_MAX_LENGTH, unique=True, verbose_name=_("idempotency key"))
    # sha256 of kind, reference and legs: a replayed key with other content is a conflict.
    fingerprint = models.CharField(max_length=64, verbose_name=_("fingerprint"))
    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    memo = models.CharField(max_length=255, blank=True, default="", verbose_name=_("memo"))
    reference = models.CharField(max_length=64, blank=True, default="", db_index=True, verbose_name=_("reference"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
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
    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, related_name="entries", db_index=False, verbose_name=_("transfer")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False, verbose_name=_("account")
    )
    amount = money_field(verbose_name=_("amount"))
    # Running balance of the account after this entry; null on hot accounts, whose balance
    # is not tracked per posting.
    balance_after = money_field(null=True, blank=True, verbose_name=_("balance after"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
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


class AuditCheckpoint(models.Model):
    """How far the ledger audit has read (wallet/audit.py, docs/LEDGER.md "Audit"): every entry up
    to ``entry_id`` and every transfer up to ``transfer_id`` was checked, and the running sums in
    ``AuditedBalance`` are as of ``entry_id``. One row per run that moved it; the newest counts.
    A hot account's balance is its audited sum plus its entries after it (``selectors.account_balance``).
    Only the audit writes it, and no admin page shows it (``manage.py ledger_audit`` prints it)."""

    entry_id = models.BigIntegerField()
    transfer_id = models.BigIntegerField()
    # No entry after ``entry_id`` was created before this: the start of the oldest transaction
    # open when the run read its marks. A hot account's balance sums its entries from here on.
    horizon = models.DateTimeField()
    full = models.BooleanField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"audited through entry {self.entry_id}"


class AuditedBalance(models.Model):
    """An account's entries summed up to the newest ``AuditCheckpoint``, so an incremental audit
    adds only the entries after it to check the balance."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, primary_key=True, related_name="+")
    total = money_field()

    def __str__(self) -> str:
        return f"{self.account_id} {self.total}"


class Hold(models.Model):
    """Money reserved on an account: pending raises ``account.held`` until captured or released."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        CAPTURED = "captured", _("Captured")
        RELEASED = "released", _("Released")

    idempotency_key = models.CharField(max_length=LEDGER_KEY_MAX_LENGTH, unique=True, verbose_name=_("idempotency key"))
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds", verbose_name=_("account"))
    amount = money_field(verbose_name=_("amount"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    reference = models.CharField(max_length=64, blank=True, default="", db_index=True, verbose_name=_("reference"))
    capture_transfer = models.OneToOneField(
        Transfer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="captured_hold",
        verbose_name=_("capture transfer"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
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

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="receive_codes", verbose_name=_("owner")
    )
    amount = money_field(null=True, blank=True, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    memo = models.CharField(max_length=255, blank=True, default="", verbose_name=_("memo"))
    single_use = models.BooleanField(verbose_name=_("single use"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("receive code")
        verbose_name_plural = _("receive codes")
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
        POSTED = "posted", _("Posted")
        UNDER_REVIEW = "under_review", _("Under review")
        REJECTED = "rejected", _("Rejected")

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_sent", verbose_name=_("sender")
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="transfers_received",
        verbose_name=_("recipient"),
    )
    amount = money_field(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    memo = models.CharField(max_length=255, blank=True, default="", verbose_name=_("memo"))
    status = FSMField(max_length=16, choices=Status.choices, protected=True, verbose_name=_("status"))
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, verbose_name=_("idempotency key"))
    # sha256 of the request's content: the same key with another content is a conflict.
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    receive_code = models.ForeignKey(
        ReceiveCode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        verbose_name=_("receive code"),
    )
    # Copied from the code so the database can refuse a second payment of a single-use one.
    receive_code_single_use = models.BooleanField(default=False, verbose_name=_("receive code single use"))
    # What the transfer guard recorded of its decision (risk: ``risk_evaluation:<id>``).
    guard_reference = models.CharField(max_length=64, verbose_name=_("guard reference"))
    ledger_transfer = models.OneToOneField(
        Transfer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="peer_transfer",
        verbose_name=_("ledger transfer"),
    )
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="peer_transfer", verbose_name=_("hold")
    )
    status_reason = models.CharField(max_length=500, blank=True, default="", verbose_name=_("status reason"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))

    class Meta:
        verbose_name = _("peer transfer")
        verbose_name_plural = _("peer transfers")
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
from wallet.payment_password.models import PaymentPassword  # noqa: E402, F401

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
