"""Read queries of red packets: who may see and grab what, the lists, escrow against shares."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, QuerySet, Sum
from django.utils import timezone

from wallet.models import Account
from wallet.money import ZERO, format_amount
from wallet.redpackets.models import ChatGroupMember, RedPacket, RedPacketShare
from wallet.redpackets.numbers import is_packet_no
from wallet.selectors import account_balance

ESCROW_ACCOUNT = "escrow:redpacket"


def is_intended_recipient(*, packet: RedPacket, user: User) -> bool:
    """The one user it was sent to, or a member of its group (the sender included)."""
    if packet.recipient_id is not None:
        return packet.recipient_id == user.pk
    return ChatGroupMember.objects.filter(group_id=packet.group_id, user=user).exists()


def packet_for_viewer(*, user: User, packet_no: str) -> RedPacket | None:
    """The packet if the user sent it, was meant to get it, or grabbed a share; else None."""
    if not is_packet_no(packet_no):
        return None
    packet = RedPacket.objects.select_related("sender", "recipient", "group").filter(packet_no=packet_no).first()
    if packet is None:
        return None
    if packet.sender_id == user.pk or is_intended_recipient(packet=packet, user=user):
        return packet
    return packet if share_of(packet=packet, user=user) is not None else None


def may_see_grabs(*, packet: RedPacket, user: User) -> bool:
    """Who grabbed what: for the sender and for those who grabbed a share."""
    return packet.sender_id == user.pk or share_of(packet=packet, user=user) is not None


def share_of(*, packet: RedPacket, user: User) -> RedPacketShare | None:
    return RedPacketShare.objects.filter(packet=packet, grabbed_by=user).first()


def grabbed_shares(*, packet: RedPacket) -> QuerySet[RedPacketShare]:
    """The grabbed shares in the order they were grabbed, with their grabbers."""
    return (
        RedPacketShare.objects.filter(packet=packet, grabbed_by__isnull=False)
        .select_related("grabbed_by")
        .order_by("grabbed_at", "id")
    )


def packets_sent(*, user: User) -> QuerySet[RedPacket]:
    """The user's packets (ordered by the paginator, newest first)."""
    return RedPacket.objects.filter(sender=user).select_related("recipient", "group")


def shares_received(*, user: User) -> QuerySet[RedPacketShare]:
    """The shares the user grabbed, with their packets (ordered by the paginator, newest first)."""
    return RedPacketShare.objects.filter(grabbed_by=user).select_related("packet", "packet__sender")


def unclaimed_shares(*, packet_id: int) -> QuerySet[RedPacketShare]:
    """Shares nobody grabbed and that were not refunded, in position order."""
    return RedPacketShare.objects.filter(packet_id=packet_id, grabbed_by__isnull=True, refunded=False).order_by(
        "position"
    )


@dataclass(frozen=True)
class Progress:
    grabbed_count: int
    grabbed_amount: Decimal


def packet_progress(*, packet: RedPacket) -> Progress:
    totals = RedPacketShare.objects.filter(packet=packet, grabbed_by__isnull=False).aggregate(
        count=Count("id"), amount=Sum("amount")
    )
    return Progress(grabbed_count=totals["count"], grabbed_amount=totals["amount"] or ZERO)


def settlement_body(*, packet: RedPacket) -> dict[str, object]:
    """The JSON-ready body of ``wallet.signals.red_packet_settled``."""
    progress = packet_progress(packet=packet)
    return {
        "packet_no": packet.packet_no,
        "amount": format_amount(packet.amount),
        "count": packet.count,
        "grabbed_count": progress.grabbed_count,
        "grabbed_amount": format_amount(progress.grabbed_amount),
        "refunded_amount": format_amount(packet.refunded_amount),
        "status": packet.status,
        "created_at": packet.created_at.isoformat(),
        "finished_at": packet.finished_at.isoformat() if packet.finished_at else None,
    }


@dataclass(frozen=True)
class EscrowCheck:
    """What ``escrow:redpacket`` holds against what the shares still owe: they must be equal."""

    balance: Decimal
    owed: Decimal

    @property
    def matches(self) -> bool:
        return self.balance == self.owed


def escrow_check() -> EscrowCheck:
    """Owed: every share neither paid out nor refunded (those of open packets, and grabs whose
    posting the sweep has still to make)."""
    owed = RedPacketShare.objects.filter(transfer__isnull=True, refunded=False).aggregate(total=Sum("amount"))
    escrow = Account.objects.filter(code=ESCROW_ACCOUNT).first()
    balance = ZERO if escrow is None else account_balance(account=escrow)
    return EscrowCheck(balance=balance, owed=owed["total"] or ZERO)


def packets_due_to_expire(*, limit: int) -> list[int]:
    """Open packets past their expiry, oldest first."""
    due = RedPacket.objects.filter(status=RedPacket.Status.OPEN, expires_at__lte=timezone.now())
    return list(due.order_by("expires_at").values_list("pk", flat=True)[:limit])


def packets_due_to_finish(*, limit: int) -> list[int]:
    """Open packets whose every share is grabbed: the last grab's own finish did not happen."""
    unclaimed = RedPacketShare.objects.filter(packet=OuterRef("pk"), grabbed_by__isnull=True, refunded=False)
    due = RedPacket.objects.filter(status=RedPacket.Status.OPEN).filter(~Exists(unclaimed))
    return list(due.order_by("pk").values_list("pk", flat=True)[:limit])


def shares_unpaid(*, older_than: timedelta, limit: int) -> list[int]:
    """Shares claimed whose posting did not happen, claimed at least ``older_than`` ago."""
    before = timezone.now() - older_than
    unpaid = RedPacketShare.objects.filter(grabbed_by__isnull=False, transfer__isnull=True, grabbed_at__lte=before)
    return list(unpaid.order_by("grabbed_at").values_list("pk", flat=True)[:limit])


def packets_open(*, after_id: int, limit: int) -> list[int]:
    """Open packets by id, from ``after_id``: the sweep walks them in batches."""
    open_packets = RedPacket.objects.filter(status=RedPacket.Status.OPEN, pk__gt=after_id)
    return list(open_packets.order_by("pk").values_list("pk", flat=True)[:limit])
