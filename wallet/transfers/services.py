"""Every write of user-to-user transfers and receive codes (docs/WALLET.md).

A transfer is one transaction: take the sender's lock, replay a repeated request, read the
receive code under its row lock, check both wallets, ask the registered transfer guard (risk
control), then post the money or hold it for review, through wallet.services only. A refusal
commits the guard's log of it alone, so the refusal stays on record and uses no quota.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed, has_transition_perm
from django_fsm_log.models import StateLog

from wallet import errors
from wallet import services as ledger
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.models import Account, PeerTransfer, ReceiveCode
from wallet.money import is_positive_cents
from wallet.transfers import codes, locks, selectors
from wallet.transfers.guards import Outcome, TransferAttempt, guard_current

KIND = "p2p"


@dataclass(frozen=True)
class Sent:
    transfer: PeerTransfer
    created: bool


def transfer_send(
    *,
    sender: User,
    idempotency_key: str,
    amount: Decimal | None,
    recipient: User | None = None,
    receive_code: str = "",
    memo: str = "",
) -> Sent:
    """Send ``amount`` to ``recipient``, or pay the receive code whose token is ``receive_code``.

    The client's key (unique per sender) makes a retry return the first transfer; the same key
    with another request is ``idempotency_conflict``.
    """
    key = idempotency_key_normalise(idempotency_key)
    if (recipient is None) == (not receive_code):
        raise errors.ValidationFailed(_("Give either a recipient or a receive code."), fields={"to": "required"})
    if amount is not None and not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    target = f"user:{recipient.pk}" if recipient is not None else f"code:{receive_code}"
    fingerprint = hashlib.sha256(f"{target}|{amount}|{memo}".encode()).hexdigest()
    replay = _replay(sender=sender, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    code_id = codes.token_read(receive_code, now=timezone.now()) if receive_code else None

    refusal: errors.ApplicationError | None = None
    with transaction.atomic(durable=True):
        locks.sender_lock(sender.pk)
        replay = _replay(sender=sender, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        now = timezone.now()
        code = _code_to_pay(code_id, payer=sender, now=now) if code_id is not None else None
        if code is not None:
            recipient = code.owner
            amount = _amount_for_code(code, amount)
            memo = memo or code.memo
        if recipient is None or amount is None:
            raise errors.ValidationFailed(_("The amount is required."), fields={"amount": "required"})
        _check_parties(sender=sender, recipient=recipient)
        source = ledger.account_for_user(user=sender)
        target_account = ledger.account_for_user(user=recipient)
        _check_not_frozen(source=source, target=target_account)
        if source.available < amount:
            # Before the guard, so its log holds no decision on a transfer that could not happen;
            # the ledger refuses it anyway should the balance fall meanwhile.
            raise errors.InsufficientFunds(fields={"amount": "insufficient_funds"})
        verdict = guard_current().evaluate(
            TransferAttempt(
                sender_id=sender.pk,
                sender_active=sender.is_active,
                recipient_id=recipient.pk,
                recipient_active=recipient.is_active,
                amount=amount,
                currency=source.currency,
                new_recipient=not selectors.has_paid_before(sender_id=sender.pk, recipient_id=recipient.pk),
                via_receive_code=code is not None,
                now=now,
            )
        )
        if verdict.outcome == Outcome.REJECT:
            # Commit the guard's record of the refusal alone, then refuse.
            refusal = verdict.refusal or errors.RiskRejected()
        else:
            pk = locks.peer_transfer_next_id()
            reference = f"{KIND}:{pk}"
            ledger_transfer_id = hold_id = None
            if verdict.outcome == Outcome.ALLOW:
                ledger_transfer_id = ledger.transfer_post(
                    idempotency_key=f"{KIND}:{sender.pk}:{key}",
                    kind=KIND,
                    legs=[ledger.Leg(source, -amount), ledger.Leg(target_account, amount)],
                    memo=memo,
                    reference=reference,
                ).pk
            else:
                hold_id = ledger.hold_place(
                    idempotency_key=f"{KIND}:{sender.pk}:{key}:hold", account=source, amount=amount, reference=reference
                ).pk
            transfer = PeerTransfer(
                pk=pk,
                sender=sender,
                recipient=recipient,
                amount=amount,
                currency=source.currency,
                memo=memo,
                status=PeerTransfer.Status.POSTED if ledger_transfer_id else PeerTransfer.Status.UNDER_REVIEW,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                receive_code=code,
                receive_code_single_use=code is not None and code.single_use,
                guard_reference=verdict.reference,
                ledger_transfer_id=ledger_transfer_id,
                hold_id=hold_id,
                created_at=now,
            )
            _insert(transfer)
            StateLog.objects.create(
                content_object=transfer,
                transition="send",
                source_state=None,
                state=transfer.status,
                by=sender,
                description=verdict.reference,
                timestamp=now,
            )
    if refusal is not None:
        raise refusal
    return Sent(transfer=transfer, created=True)


@transaction.atomic(durable=True)
def transfer_approve(*, transfer: PeerTransfer, actor: User, note: str = "") -> PeerTransfer:
    """Capture the held money to the recipient; the decision is logged with the actor. Refused
    while either wallet is frozen, the recipient's account is closed or either party is
    blocklisted (the reviewer rejects instead)."""
    transfer = locks.peer_transfer_lock(transfer.pk)
    _check_transition(transfer, transfer.approve, actor)
    _check_parties(sender=transfer.sender, recipient=transfer.recipient)
    source = ledger.account_for_user(user=transfer.sender, currency=transfer.currency)
    target = ledger.account_for_user(user=transfer.recipient, currency=transfer.currency)
    _check_not_frozen(source=source, target=target)
    refusal = guard_current().approval_refusal(sender_id=transfer.sender_id, recipient_id=transfer.recipient_id)
    if refusal is not None:
        raise refusal
    capture = ledger.hold_capture(
        hold=_held(transfer), destinations=[ledger.Leg(target, transfer.amount)], kind=KIND, memo=transfer.memo
    )
    transfer.approve(by=actor, description=note)
    transfer.ledger_transfer_id = capture.pk
    transfer.save(update_fields=["status", "ledger_transfer", "reviewed_at"])
    return transfer


@transaction.atomic(durable=True)
def transfer_reject(*, transfer: PeerTransfer, actor: User, reason: str) -> PeerTransfer:
    """Release the held money back to the sender; a reason is required and logged with the actor."""
    if not reason.strip():
        raise errors.ValidationFailed(_("A rejection needs a reason."), fields={"reason": "required"})
    transfer = locks.peer_transfer_lock(transfer.pk)
    _check_transition(transfer, transfer.reject, actor)
    ledger.hold_release(hold=_held(transfer))
    transfer.reject(by=actor, description=reason.strip())
    transfer.save(update_fields=["status", "status_reason", "reviewed_at"])
    return transfer


def receive_code_create(
    *, owner: User, amount: Decimal | None, single_use: bool, memo: str = "", expires_in: timedelta | None = None
) -> ReceiveCode:
    """A new receive code of ``owner``: fixed when ``amount`` is given, open otherwise.

    Without ``expires_in`` a fixed code lives 15 minutes, an open one 24 hours; any other life
    must lie within ``codes.MIN_EXPIRY`` and ``codes.MAX_EXPIRY``.
    """
    if amount is not None and not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    if expires_in is None:
        expires_in = codes.DEFAULT_EXPIRY_OPEN if amount is None else codes.DEFAULT_EXPIRY_FIXED
    if not codes.MIN_EXPIRY <= expires_in <= codes.MAX_EXPIRY:
        raise errors.ValidationFailed(
            _("A code lives from %(min_expiry)s to %(max_expiry)s.")
            % {"min_expiry": codes.MIN_EXPIRY, "max_expiry": codes.MAX_EXPIRY},
            fields={"expires_in": "out_of_range"},
        )
    now = timezone.now()
    return ReceiveCode.objects.create(
        owner=owner, amount=amount, memo=memo, single_use=single_use, created_at=now, expires_at=now + expires_in
    )


@transaction.atomic
def receive_code_revoke(*, code: ReceiveCode, actor: User) -> ReceiveCode:
    """Nobody can pay the code any more; revoking it again changes nothing."""
    locked = locks.receive_code_lock(code.pk)
    if locked is None:
        raise errors.NotFound(_("No such receive code."))
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
    return locked


def _replay(*, sender: User, key: str, fingerprint: str) -> Sent | None:
    previous = idempotent_replay(
        PeerTransfer.objects.filter(sender=sender), key=key, fingerprint=fingerprint, what="transfer"
    )
    return None if previous is None else Sent(transfer=previous, created=False)


def _code_to_pay(code_id: int, *, payer: User, now) -> ReceiveCode:
    """The code, locked; refused when revoked, expired, already paid (single use) or the payer's own."""
    code = locks.receive_code_lock(code_id)
    if code is None:
        raise errors.ValidationFailed(_("This receive code is not valid."), fields={"receive_code": "invalid"})
    if code.owner_id == payer.pk:
        raise errors.ValidationFailed(_("You cannot pay your own receive code."), fields={"receive_code": "own"})
    if code.revoked_at is not None:
        raise errors.Conflict(_("This receive code was revoked."), fields={"receive_code": "revoked"})
    if now >= code.expires_at:
        raise errors.ValidationFailed(_("This receive code has expired."), fields={"receive_code": "expired"})
    if code.single_use and code.transfers.exclude(status=PeerTransfer.Status.REJECTED).exists():
        raise errors.Conflict(_("This receive code was already paid."), fields={"receive_code": "used"})
    return code


def _amount_for_code(code: ReceiveCode, amount: Decimal | None) -> Decimal:
    if code.amount is None:
        if amount is None:
            raise errors.ValidationFailed(_("This receive code needs an amount."), fields={"amount": "required"})
        return amount
    if amount is not None and amount != code.amount:
        raise errors.ValidationFailed(
            _("This receive code is for %(amount)s.") % {"amount": code.amount}, fields={"amount": "differs_from_code"}
        )
    return code.amount


def _check_parties(*, sender: User, recipient: User) -> None:
    if sender.pk == recipient.pk:
        raise errors.ValidationFailed(_("You cannot transfer to yourself."), fields={"to": "self"})
    if not recipient.is_active:
        raise errors.ValidationFailed(_("The recipient cannot receive transfers."), fields={"to": "inactive"})


def _check_not_frozen(*, source: Account, target: Account) -> None:
    if source.status == Account.Status.FROZEN:
        raise errors.AccountFrozen(_("Your wallet is frozen."), fields={"from": "frozen"})
    if target.status == Account.Status.FROZEN:
        raise errors.AccountFrozen(_("The recipient's wallet is frozen."), fields={"to": "frozen"})


def _check_transition(transfer: PeerTransfer, method, actor: User) -> None:
    if not can_proceed(method):
        raise errors.Conflict(
            _("This transfer is %(status)s: it is no longer under review.") % {"status": transfer.status},
            fields={"status": "final"},
        )
    if not has_transition_perm(method, actor):
        raise errors.PermissionDenied(_("You may not review transfers."))


def _held(transfer: PeerTransfer) -> int:
    """The hold of a transfer under review (its table's check constraint guarantees one)."""
    if transfer.hold_id is None:
        raise errors.Conflict(_("This transfer holds no money."))
    return transfer.hold_id


def _insert(transfer: PeerTransfer) -> None:
    """Write the transfer; the database refuses a second payment of a single-use code."""
    try:
        with transaction.atomic():
            transfer.save(force_insert=True)
    except IntegrityError as exc:
        if "peer_transfer_single_use_code_paid_once" in str(exc):
            raise errors.Conflict(_("This receive code was already paid."), fields={"receive_code": "used"}) from exc
        raise
