"""Every write of red packets: send, grab, settle (docs/WALLET.md, "Red packets").

Money moves through wallet.services only: the sender's wallet -> ``escrow:redpacket`` at send,
escrow -> grabber per share (ledger key from the share), escrow -> sender for the remainder at
expiry (ledger key from the packet). The escrow account is hot (never row-locked), so the grabs
of one packet do not queue on it; the share rows bound what it pays.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from wallet import errors
from wallet import services as ledger
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.models import Transfer
from wallet.money import is_positive_cents
from wallet.redpackets import locks, selectors, store
from wallet.redpackets.models import ChatGroup, ChatGroupMember, RedPacket, RedPacketShare
from wallet.redpackets.numbers import packet_no_new
from wallet.redpackets.split import split_equal, split_lucky
from wallet.signals import red_packet_settled

LIFETIME = timedelta(hours=24)
SEND_LOCK = 0x5253  # "RS": pg_advisory_xact_lock namespace of one user's sends
ONE_PER_USER = "red_packet_share_one_per_user"

_CLAIM = """
UPDATE wallet_redpacketshare SET grabbed_by_id = %s, grabbed_at = %s
 WHERE id = %s AND packet_id = %s AND grabbed_by_id IS NULL AND NOT refunded
RETURNING amount, position
"""


@dataclass(frozen=True)
class Sending:
    packet: RedPacket
    created: bool


@dataclass(frozen=True)
class Grab:
    share: RedPacketShare
    created: bool


def redpacket_send(
    *,
    sender: User,
    amount: Decimal,
    count: int,
    mode: str,
    idempotency_key: str,
    recipient: User | None = None,
    group: ChatGroup | None = None,
    greeting: str = "",
) -> Sending:
    """Take ``amount`` from the sender's wallet into escrow and cut it into ``count`` shares.

    The shares are computed now and stored; a retry with the same ``idempotency_key`` returns
    the first packet, with other content it is an ``IdempotencyConflict``.
    """
    key = idempotency_key_normalise(idempotency_key)
    _check_terms(sender=sender, amount=amount, count=count, mode=mode, recipient=recipient, group=group)
    to = f"user:{recipient.pk}" if recipient is not None else f"group:{group.pk if group else ''}"
    fingerprint = hashlib.sha256("|".join([mode, str(amount), str(count), to, greeting]).encode()).hexdigest()
    replay = _send_replay(sender=sender, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    amounts = split_lucky(amount, count) if mode == RedPacket.Mode.LUCKY else split_equal(amount, count)
    if recipient is not None and count != 1:
        # Only the recipient may grab: more shares would sit in escrow until the packet expires.
        raise errors.ValidationFailed(
            _("A red packet to one user has one share."), fields={"count": "one_for_one_user"}
        )

    with transaction.atomic(durable=True):
        _user_sends_lock(sender.pk)
        replay = _send_replay(sender=sender, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        source = ledger.account_for_user(user=sender)
        escrow = ledger.account_for_system(code=selectors.ESCROW_ACCOUNT, currency=source.currency)
        packet_no = packet_no_new()
        transfer = ledger.transfer_post(
            idempotency_key=f"redpacket:send:{sender.pk}:{key}",
            kind="redpacket_send",
            legs=[ledger.Leg(source, -amount), ledger.Leg(escrow, amount)],
            memo=greeting[:255],
            reference=packet_no,
        )
        now = timezone.now()
        packet = RedPacket.objects.create(
            packet_no=packet_no,
            sender=sender,
            recipient=recipient,
            group=group,
            mode=mode,
            amount=amount,
            count=count,
            currency=source.currency,
            greeting=greeting,
            idempotency_key=key,
            request_fingerprint=fingerprint,
            send_transfer_id=transfer.pk,
            created_at=now,
            expires_at=now + LIFETIME,
        )
        shares = RedPacketShare.objects.bulk_create(
            RedPacketShare(packet=packet, position=position, amount=share)
            for position, share in enumerate(amounts, start=1)
        )
        StateLog.objects.create(
            content_object=packet, transition="send", source_state=None, state=packet.status, by=sender, timestamp=now
        )
        share_ids = [share.pk for share in shares]
        # Robust: the packet is committed either way; a list Redis did not take is rebuilt by
        # the first grab.
        transaction.on_commit(
            lambda: store.packet_load(
                packet_id=packet.pk, share_ids=share_ids, grabber_ids=[], expires_at=packet.expires_at
            ),
            robust=True,
        )
    return Sending(packet=packet, created=True)


def _check_terms(
    *, sender: User, amount: Decimal, count: int, mode: str, recipient: User | None, group: ChatGroup | None
) -> None:
    if mode not in RedPacket.Mode.values:
        raise errors.ValidationFailed(_("Unknown split mode."), fields={"mode": "invalid"})
    if not 1 <= count <= settings.RED_PACKET_MAX_COUNT:
        raise errors.ValidationFailed(
            _("A red packet has 1 to %(red_packet_max_count)s shares.")
            % {"red_packet_max_count": settings.RED_PACKET_MAX_COUNT},
            fields={"count": "out_of_range"},
        )
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    if amount > Decimal(settings.RED_PACKET_MAX_AMOUNT):
        raise errors.ValidationFailed(
            _("A red packet holds at most %(red_packet_max_amount)s.")
            % {"red_packet_max_amount": settings.RED_PACKET_MAX_AMOUNT},
            fields={"amount": "above_maximum"},
        )
    if (recipient is None) == (group is None):
        raise errors.ValidationFailed(
            _("Send a red packet to one user or to one group."), fields={"recipient": "one_of_recipient_or_group"}
        )
    if recipient is not None and (recipient.pk == sender.pk or not recipient.is_active):
        raise errors.ValidationFailed(_("This user cannot receive your red packet."), fields={"recipient": "invalid"})
    if group is not None and not ChatGroupMember.objects.filter(group=group, user=sender).exists():
        raise errors.ValidationFailed(_("You are not a member of this group."), fields={"group": "not_a_member"})


def _send_replay(*, sender: User, key: str, fingerprint: str) -> Sending | None:
    previous = idempotent_replay(
        RedPacket.objects.filter(sender=sender), key=key, fingerprint=fingerprint, what="red packet"
    )
    return None if previous is None else Sending(packet=previous, created=False)


def _user_sends_lock(user_id: int) -> None:
    """One user's sends one at a time, so a retried key finds the first packet."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SEND_LOCK, user_id])


def redpacket_grab(*, packet: RedPacket, user: User) -> Grab:
    """Give the user one share: pop an id in Redis, claim its row and pay it in one transaction.

    The sender may grab from a packet sent to a group they are in (as WeChat allows), not from
    one sent to one user. A user grabs once: a second grab answers the first share (``created``
    False). A popped id the row refuses (grabbed meanwhile, refunded, or repeated by a rebuild)
    is skipped; a grab that fails after the pop puts the id back.
    """
    if not selectors.is_intended_recipient(packet=packet, user=user):
        if packet.sender_id == user.pk:
            raise errors.PermissionDenied(_("A red packet sent to one user is theirs to grab."))
        raise errors.NotFound(_("No such red packet."))
    if packet.status != RedPacket.Status.OPEN or packet.expires_at <= timezone.now():
        return _grab_closed(packet=packet, user=user)
    # Each pass pops one id; at most every share once, plus a rebuild or two.
    for _attempt in range(packet.count + 3):
        popped = store.share_pop(packet_id=packet.pk, user_id=user.pk)
        if not isinstance(popped, store.Popped):
            if popped == store.EMPTY:
                # Not in the grabbers set (that answers first), so this user has no share: no
                # need to ask the database, which a crowd of late grabbers would otherwise do.
                raise errors.RedPacketEmpty()
            if popped == store.ALREADY:
                return _grab_in_progress(packet=packet, user=user)
            if not redpacket_store_rebuild(packet_id=packet.pk):
                return _grab_closed(packet=RedPacket.objects.get(pk=packet.pk), user=user)
            continue
        try:
            share = _claim_and_pay(packet=packet, share_id=popped.share_id, user=user)
        except IntegrityError as exc:
            store.share_put_back(packet_id=packet.pk, share_id=popped.share_id, user_id=user.pk)
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != ONE_PER_USER:
                raise
            return _grab_in_progress(packet=packet, user=user)
        except BaseException:
            store.share_put_back(packet_id=packet.pk, share_id=popped.share_id, user_id=user.pk)
            raise
        if share is None:
            store.grabber_forget(packet_id=packet.pk, user_id=user.pk)
            continue
        # Asked after the commit: the last grab to commit finds the list empty, and sees
        # every other claim committed.
        if popped.shares_left == 0 or store.shares_left(packet_id=packet.pk) == 0:
            redpacket_finish_if_done(packet_id=packet.pk)
        return Grab(share=share, created=True)
    return _grab_closed(packet=RedPacket.objects.get(pk=packet.pk), user=user)


def _grab_closed(*, packet: RedPacket, user: User) -> Grab:
    """No share to hand out: the user's own share if they grabbed one, else why not."""
    previous = selectors.share_of(packet=packet, user=user)
    if previous is not None:
        return Grab(share=previous, created=False)
    if packet.status == RedPacket.Status.EXPIRED or packet.expires_at <= timezone.now():
        raise errors.RedPacketExpired()
    raise errors.RedPacketEmpty()


def _grab_in_progress(*, packet: RedPacket, user: User) -> Grab:
    """Redis or the database says this user has a share: answer it, or, while their other
    request is still committing, a conflict to retry."""
    previous = selectors.share_of(packet=packet, user=user)
    if previous is None:
        raise errors.Conflict(_("Your grab of this red packet is in progress; ask again."))
    return Grab(share=previous, created=False)


def _claim_and_pay(*, packet: RedPacket, share_id: int, user: User) -> RedPacketShare | None:
    """Claim the share for the user and post escrow -> user, together; None if the row is no
    longer there to claim. The claim's row lock is the only lock the packet's grabs share."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, [user.pk, now, share_id, packet.pk])
            row = cursor.fetchone()
        if row is None:
            return None
        share = RedPacketShare(
            pk=share_id, packet=packet, amount=row[0], position=row[1], grabbed_by=user, grabbed_at=now
        )
        transfer = _share_post(share)
        RedPacketShare.objects.filter(pk=share_id).update(transfer_id=transfer.pk)
    share.transfer_id = transfer.pk
    return share


def _share_post(share: RedPacketShare) -> Transfer:
    """Escrow -> grabber for one share; its ledger key makes a second posting the first."""
    packet = share.packet
    if share.grabbed_by is None:
        raise errors.Conflict(_("Only a grabbed share is paid."))
    grabber = ledger.account_for_user(user=share.grabbed_by, currency=packet.currency)
    escrow = ledger.account_for_system(code=selectors.ESCROW_ACCOUNT, currency=packet.currency)
    return ledger.transfer_post(
        idempotency_key=f"redpacket:share:{share.pk}",
        kind="redpacket_grab",
        legs=[ledger.Leg(escrow, -share.amount), ledger.Leg(grabber, share.amount)],
        memo=packet.greeting[:255],
        reference=packet.packet_no,
    )


def redpacket_store_rebuild(*, packet_id: int, force: bool = False) -> bool:
    """Load the packet's Redis list from its unclaimed share rows; False (and an empty list) if
    it is not open.

    Under the packet's advisory lock, and only when the list is not loaded (unless ``force``),
    so two rebuilds after a flush load it once. A share whose grab is in flight may be loaded
    again: its row takes one claim only, and the second pop of it is skipped.
    """
    with transaction.atomic(durable=True):
        locks.packet_rebuild_lock(packet_id)
        if not force and store.packet_is_loaded(packet_id=packet_id):
            return True
        packet = RedPacket.objects.get(pk=packet_id)
        is_open = packet.status == RedPacket.Status.OPEN
        # A settled packet is loaded empty: late grabbers are then told so by Redis alone.
        share_ids = (
            list(selectors.unclaimed_shares(packet_id=packet_id).values_list("pk", flat=True)) if is_open else []
        )
        grabber_ids = list(
            RedPacketShare.objects.filter(packet_id=packet_id, grabbed_by__isnull=False).values_list(
                "grabbed_by_id", flat=True
            )
        )
        store.packet_load(
            packet_id=packet_id, share_ids=share_ids, grabber_ids=grabber_ids, expires_at=packet.expires_at
        )
    return is_open


def redpacket_store_repair(*, packet_id: int) -> bool:
    """Reload an open packet's list if an unclaimed share is missing from it (a grab that died
    between its pop and its commit); whether it was reloaded."""
    unclaimed = set(selectors.unclaimed_shares(packet_id=packet_id).values_list("pk", flat=True))
    if not store.packet_is_loaded(packet_id=packet_id) or unclaimed <= set(store.packet_shares(packet_id=packet_id)):
        return False
    return redpacket_store_rebuild(packet_id=packet_id, force=True)


def redpacket_finish_if_done(*, packet_id: int) -> RedPacket:
    """``open -> finished`` once no share is left to grab; a no-op otherwise.

    Run by each grab that finds, after its commit, no share left in Redis: the last grab to
    commit sees every other claim, so it finishes the packet (the sweep catches a crash between).
    """
    with transaction.atomic(durable=True):
        packet = locks.packet_lock(packet_id)
        if packet.status != RedPacket.Status.OPEN or selectors.unclaimed_shares(packet_id=packet_id).exists():
            return packet
        packet.finish(description="every share grabbed")
        packet.save(update_fields=["status", "finished_at", "updated_at"])
        _settled(packet)
    return packet


def redpacket_expire(*, packet_id: int) -> RedPacket:
    """Past its expiry, refund the unclaimed shares to the sender in one posting and mark the
    packet ``expired``; with none left it is ``finished``. Again is a no-op.

    The unclaimed rows are locked and marked refunded before the posting, so a grab in flight
    either claimed its row first (and is paid) or finds it refunded (and is not).
    """
    with transaction.atomic(durable=True):
        packet = locks.packet_lock(packet_id)
        if packet.status != RedPacket.Status.OPEN or packet.expires_at > timezone.now():
            return packet
        unclaimed = list(selectors.unclaimed_shares(packet_id=packet_id).select_for_update(of=("self",)))
        if not unclaimed:
            packet.finish(description="every share grabbed before expiry")
            packet.save(update_fields=["status", "finished_at", "updated_at"])
            _settled(packet)
            return packet
        RedPacketShare.objects.filter(pk__in=[share.pk for share in unclaimed]).update(refunded=True)
        remainder = sum((share.amount for share in unclaimed), Decimal("0.00"))
        escrow = ledger.account_for_system(code=selectors.ESCROW_ACCOUNT, currency=packet.currency)
        transfer = ledger.transfer_post(
            idempotency_key=f"redpacket:{packet.packet_no}:refund",
            kind="redpacket_refund",
            legs=[
                ledger.Leg(escrow, -remainder),
                ledger.Leg(ledger.account_for_user(user=packet.sender, currency=packet.currency), remainder),
            ],
            memo=f"{len(unclaimed)} of {packet.count} shares not grabbed",
            reference=packet.packet_no,
        )
        packet.expire(
            refund_transfer=transfer,
            refunded_amount=remainder,
            description=f"{len(unclaimed)} shares refunded",
        )
        packet.save(update_fields=["status", "refund_transfer", "refunded_amount", "finished_at", "updated_at"])
        _settled(packet)
    return packet


def redpacket_share_pay(*, share_id: int) -> RedPacketShare:
    """Post a claimed share that has no posting yet (idempotent by share); a no-op otherwise."""
    with transaction.atomic(durable=True):
        share = locks.share_lock(share_id)
        if share.transfer_id is not None or share.grabbed_by_id is None:
            return share
        transfer = _share_post(share)
        share.transfer_id = transfer.pk
        share.save(update_fields=["transfer"])
    return share


def _settled(packet: RedPacket) -> None:
    """Tell the apps above, inside this transaction. The Redis keys of a finished packet stay
    (empty) until they expire, so late grabbers are answered by Redis; an expired packet's go,
    its refunded ids with them (a grab checks the expiry before Redis anyway)."""
    finished = packet.status == RedPacket.Status.FINISHED
    red_packet_settled.send(
        sender=RedPacket,
        sender_user_id=packet.sender_id,
        event="red_packet.finished" if finished else "red_packet.expired",
        data=selectors.settlement_body(packet=packet),
    )
    if not finished:
        packet_id = packet.pk
        transaction.on_commit(lambda: store.packet_drop(packet_id=packet_id), robust=True)
