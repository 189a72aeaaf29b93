"""Red packets, their shares and the groups they are sent to (docs/WALLET.md, "Red packets").

The share rows are the guarantee: their amounts are fixed at send and sum to the packet; a
share is grabbed by at most one user (``grabbed_by`` set once, only while not refunded) and a
user grabs at most one share of a packet (a unique constraint). Redis only hands out share ids
fast; it can lose or repeat one and nobody is paid twice.
"""

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

from wallet.idempotency import MAX_KEY_LENGTH
from wallet.models import Transfer, money_field


class ChatGroup(models.Model):
    """The smallest group a packet can be sent to: only its members may grab."""

    name = models.CharField(max_length=64, verbose_name=_("name"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    members: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ChatGroupMember", related_name="chat_groups"
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("chat group")
        verbose_name_plural = _("chat groups")

    def __str__(self) -> str:
        return self.name


class ChatGroupMember(models.Model):
    group = models.ForeignKey(ChatGroup, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("group"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    joined_at = models.DateTimeField(default=timezone.now, verbose_name=_("joined at"))

    class Meta:
        verbose_name = _("chat group member")
        verbose_name_plural = _("chat group members")
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="chat_group_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class RedPacketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FINISHED = "finished", _("Finished (every share grabbed)")
    EXPIRED = "expired", _("Expired (remainder refunded)")


class RedPacketMode(models.TextChoices):
    LUCKY = "lucky", _("Lucky (random shares)")
    EQUAL = "equal", _("Equal shares")


class RedPacket(ConcurrentTransitionMixin, models.Model):
    """Money the sender put in escrow (``escrow:redpacket``) for ``count`` shares, to one user
    or to the members of a group, until every share is grabbed or it expires."""

    Status = RedPacketStatus
    Mode = RedPacketMode

    packet_no = models.CharField(max_length=32, unique=True, verbose_name=_("packet no"))
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="red_packets_sent", verbose_name=_("sender")
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recipient"),
    )
    group = models.ForeignKey(
        ChatGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="red_packets", verbose_name=_("group")
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, verbose_name=_("mode"))
    amount = money_field(verbose_name=_("amount"))
    count = models.PositiveSmallIntegerField(verbose_name=_("count"))
    currency = models.CharField(max_length=3, default="CNY", verbose_name=_("currency"))
    greeting = models.CharField(max_length=100, blank=True, verbose_name=_("greeting"))
    status = FSMField(
        max_length=16, choices=Status.choices, default=Status.OPEN, protected=True, verbose_name=_("status")
    )
    idempotency_key = models.CharField(max_length=MAX_KEY_LENGTH, verbose_name=_("idempotency key"))
    # sha256 of the request's content: the same key with another content is a conflict.
    request_fingerprint = models.CharField(max_length=64, verbose_name=_("request fingerprint"))
    send_transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, related_name="+", verbose_name=_("send transfer")
    )
    refund_transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("refund transfer")
    )
    refunded_amount = money_field(default=Decimal("0.00"), verbose_name=_("refunded amount"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    # When it was settled: finished (last share grabbed) or expired (remainder refunded).
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("red packet")
        verbose_name_plural = _("red packets")
        constraints = [
            models.UniqueConstraint(fields=["sender", "idempotency_key"], name="red_packet_idempotency_key_per_user"),
            models.CheckConstraint(condition=Q(count__gte=1), name="red_packet_count_positive"),
            models.CheckConstraint(
                condition=Q(amount__gte=F("count") * Decimal("0.01")), name="red_packet_a_cent_per_share_at_least"
            ),
            models.CheckConstraint(
                condition=Q(recipient__isnull=False, group__isnull=True)
                | Q(recipient__isnull=True, group__isnull=False),
                name="red_packet_to_one_user_or_one_group",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="red_packet_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status="expired", refund_transfer__isnull=False)
                | Q(status__in=["open", "finished"], refund_transfer__isnull=True, refunded_amount=0),
                name="red_packet_refunded_when_expired",
            ),
        ]
        indexes = [
            models.Index(fields=["sender", "-created_at"], name="red_packet_sender_created_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="red_packet_open_expiry_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="red_packet_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(
                name="red_packet_terms_read_only",
                fields=[
                    "packet_no",
                    "sender",
                    "recipient",
                    "group",
                    "mode",
                    "amount",
                    "count",
                    "currency",
                    "idempotency_key",
                    "request_fingerprint",
                    "send_transfer",
                    "created_at",
                    "expires_at",
                ],
            ),
        ]

    def __str__(self) -> str:
        return self.packet_no

    # Transitions: each checks its guard and changes state; services do the rest.

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.OPEN, target=Status.FINISHED)
    def finish(self, *, by=None, description: str = "") -> None:
        self.finished_at = timezone.now()

    @fsm_log_by
    @fsm_log_description
    @transition(field=status, source=Status.OPEN, target=Status.EXPIRED)
    def expire(self, *, refund_transfer: Transfer, refunded_amount, by=None, description: str = "") -> None:
        self.refund_transfer = refund_transfer
        self.refunded_amount = refunded_amount
        self.finished_at = timezone.now()


class RedPacketShare(models.Model):
    """One share, computed at send. Grabbed: ``grabbed_by`` and ``grabbed_at`` set; paid: the
    escrow -> grabber ``transfer`` posted; refunded: returned to the sender at expiry."""

    packet = models.ForeignKey(RedPacket, on_delete=models.PROTECT, related_name="shares", verbose_name=_("packet"))
    position = models.PositiveSmallIntegerField(verbose_name=_("position"))
    amount = money_field(verbose_name=_("amount"))
    grabbed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="red_packet_shares",
        verbose_name=_("grabbed by"),
    )
    grabbed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("grabbed at"))
    transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("transfer")
    )
    refunded = models.BooleanField(default=False, verbose_name=_("refunded"))

    class Meta:
        verbose_name = _("red packet share")
        verbose_name_plural = _("red packet shares")
        constraints = [
            models.UniqueConstraint(fields=["packet", "position"], name="red_packet_share_position_once"),
            # The guarantee that each user grabs once: a second claim by one user fails here.
            models.UniqueConstraint(fields=["packet", "grabbed_by"], name="red_packet_share_one_per_user"),
            models.CheckConstraint(condition=Q(amount__gte=Decimal("0.01")), name="red_packet_share_a_cent_at_least"),
            models.CheckConstraint(
                condition=Q(grabbed_by__isnull=True, grabbed_at__isnull=True)
                | Q(grabbed_by__isnull=False, grabbed_at__isnull=False),
                name="red_packet_share_grabbed_with_time",
            ),
            models.CheckConstraint(
                condition=Q(transfer__isnull=True) | Q(grabbed_by__isnull=False),
                name="red_packet_share_paid_only_when_grabbed",
            ),
            models.CheckConstraint(
                condition=Q(refunded=False) | Q(grabbed_by__isnull=True), name="red_packet_share_refunded_or_grabbed"
            ),
        ]
        indexes = [
            # The grab sweep: shares claimed whose posting did not happen.
            models.Index(
                fields=["grabbed_at"],
                condition=Q(grabbed_by__isnull=False, transfer__isnull=True),
                name="red_packet_share_unpaid_idx",
            ),
            models.Index(fields=["grabbed_by", "-grabbed_at"], name="red_packet_share_grabber_idx"),
            # What escrow still owes (the admin's line, the ledger audit): a small set of rows.
            models.Index(
                fields=["packet"],
                condition=Q(transfer__isnull=True, refunded=False),
                include=["amount"],
                name="red_packet_share_owed_idx",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="red_packet_share_no_delete", operation=pgtrigger.Delete),
            pgtrigger.ReadOnly(name="red_packet_share_terms_read_only", fields=["packet", "position", "amount"]),
            # A paid or refunded share is final, and a grabbed one never changes hands.
            pgtrigger.Protect(
                name="red_packet_share_settled_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.transfer_id IS NOT NULL OR OLD.refunded "
                    "OR (OLD.grabbed_by_id IS NOT NULL AND OLD.grabbed_by_id IS DISTINCT FROM NEW.grabbed_by_id)"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.packet_id}#{self.position} {self.amount}"


class RedPacketTransitionManager(models.Manager):
    """The django-fsm-log rows of red packets (StateLog keeps every model's in one table)."""

    def get_queryset(self):
        return super().get_queryset().filter(content_type__app_label="wallet", content_type__model="redpacket")


class RedPacketTransition(StateLog):
    """The transitions of red packets, as their own admin page and export for auditors."""

    objects: models.Manager["RedPacketTransition"] = RedPacketTransitionManager()

    class Meta:
        verbose_name = _("red packet transition")
        verbose_name_plural = _("red packet transitions")
        proxy = True
        permissions = [("export_redpackettransition", "Can export red packet transitions")]
