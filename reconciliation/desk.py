"""The finance desk's work on a discrepancy (docs/RECONCILIATION.md, "The discrepancy desk").

Steps that move no money (take it, re-query the channel, ignore or resolve it with a reason)
are one person's. A step that moves money (apply the channel's truth through the order's own
transition, or post a correction) is proposed by one person and carried out only when a
finance supervisor, another person, approves it; it is idempotent per discrepancy, and money
moves only through the orders' services and wallet.services.
"""

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import can_proceed, has_transition_perm

from payments.orders import refunds as order_refunds
from payments.orders import services as order_services
from payments.orders.models import PaymentOrder, Refund
from payments.withdrawals import payouts
from payments.withdrawals import services as withdrawal_services
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from reconciliation.models import MONEY_ACTIONS, Action, Discrepancy
from wallet import errors
from wallet import services as ledger
from wallet.money import ZERO

APPROVE = "reconciliation.approve_discrepancy"
WORK = "reconciliation.work_discrepancy"
CORRECTION_ACCOUNT = "adjustment:reconciliation"
NOT_SEEN = ("", "failed")


def discrepancy_investigate(*, discrepancy: Discrepancy, actor: User, note: str = "") -> Discrepancy:
    with transaction.atomic():
        discrepancy = _locked(discrepancy)
        _step(discrepancy, "investigate", actor, note or "taken")
    return discrepancy


def discrepancy_requery(*, discrepancy: Discrepancy, actor: User) -> str:
    """Ask the channel about the order again, through the order's own sync (an open order or a
    processing refund or payout moves to what the channel says). Moves no money by itself
    beyond what the order's sync does for any query; returns the order's state after it."""
    _work_check(actor)
    if discrepancy.status == Discrepancy.Status.OPEN:
        discrepancy_investigate(discrepancy=discrepancy, actor=actor, note="re-queried the channel")
    kind, number = discrepancy.object_kind, discrepancy.order_no
    if kind == "payment" and (order := PaymentOrder.objects.filter(order_no=number).first()):
        return order_services.payment_order_sync(order=order).status
    if kind == "refund" and (refund := Refund.objects.filter(refund_no=number).first()):
        return order_refunds.refund_sync(refund=refund).status
    if kind == "payout" and (withdrawal := Withdrawal.objects.filter(order_no=number).first()):
        payouts.payout_check(withdrawal_id=withdrawal.pk)
        return Withdrawal.objects.get(pk=withdrawal.pk).status
    raise errors.NotFound(
        gettext("We have no %(kind)s %(number)s: there is nothing to re-query.") % {"kind": kind, "number": number}
    )


def discrepancy_propose(
    *, discrepancy: Discrepancy, actor: User, action: str, reason: str, amount: Decimal | None = None
) -> Discrepancy:
    """Propose a step that moves money; a supervisor (another person) approves it."""
    _work_check(actor)
    if action not in MONEY_ACTIONS:
        message = gettext("%(action)s moves no money: do it directly.") % {"action": repr(action)}
        raise errors.ValidationFailed(message, fields={"action": "invalid"})
    _reason_check(reason)
    if action == Action.CORRECTION:
        if amount is None or amount == ZERO or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise errors.ValidationFailed(
                gettext("A correction needs a non-zero amount in cents."), fields={"amount": "invalid"}
            )
        if discrepancy.channel_id is None:
            raise errors.ValidationFailed(
                gettext("A correction needs a channel's clearing account."), fields={"action": "invalid"}
            )
    else:
        amount = None
        _channel_truth(discrepancy)
    with transaction.atomic():
        discrepancy = _locked(discrepancy)
        if discrepancy.status == Discrepancy.Status.OPEN:
            _step(discrepancy, "investigate", actor, f"proposed: {action}")
        if discrepancy.status != Discrepancy.Status.INVESTIGATING:
            raise errors.Conflict(gettext("The discrepancy is %(status)s.") % {"status": discrepancy.status})
        _unclaimed(discrepancy)
        discrepancy.proposed_action, discrepancy.proposed_amount = action, amount
        discrepancy.proposed_by, discrepancy.proposed_at = actor, timezone.now()
        discrepancy.proposal_reason = reason[:500]
        discrepancy.save()
    return discrepancy


def discrepancy_approve(*, discrepancy: Discrepancy, actor: User) -> Discrepancy:
    """Carry out the proposed step and resolve the discrepancy: a finance supervisor who did
    not propose it.

    The orders' services run in durable transactions of their own, so the money step cannot run
    under the discrepancy's lock. The approval is claimed first (``approved_by``, committed):
    while it is claimed nobody else approves, withdraws or changes the proposal, so the step
    carried out is the one approved. A step that fails releases the claim; one interrupted
    after the money moved is repeated by the same approver, moving nothing twice (the orders'
    transitions and the correction's ledger key are idempotent)."""
    if not actor.has_perm(APPROVE):
        raise errors.PermissionDenied(gettext("Only a finance supervisor approves a step that moves money."))
    with transaction.atomic():
        proposal = _approvable(_locked(discrepancy), actor)
        proposal.approved_by = actor
        proposal.save(update_fields=["approved_by", "updated_at"])
    try:
        outcome = _carry_out(proposal, actor)
    except Exception:
        Discrepancy.objects.filter(pk=proposal.pk, approved_by=actor).update(approved_by=None)
        raise
    with transaction.atomic():
        discrepancy = _approvable(_locked(discrepancy), actor)
        _step(discrepancy, "resolve", actor, f"{discrepancy.proposal_reason} ({outcome})")
    return discrepancy


def _approvable(discrepancy: Discrepancy, actor: User) -> Discrepancy:
    if not discrepancy.proposed_action or discrepancy.status != Discrepancy.Status.INVESTIGATING:
        raise errors.Conflict(gettext("There is no proposal waiting for approval."))
    if discrepancy.proposed_by_id == actor.pk:
        raise errors.PermissionDenied(gettext("Another person must approve what you proposed (four eyes)."))
    if discrepancy.approved_by_id not in (None, actor.pk):
        raise errors.Conflict(gettext("Another supervisor is carrying out this proposal."))
    return discrepancy


def _unclaimed(discrepancy: Discrepancy) -> None:
    if discrepancy.approved_by_id is not None:
        raise errors.Conflict(gettext("The proposal is approved and being carried out: it can no longer change."))


def discrepancy_proposal_withdraw(*, discrepancy: Discrepancy, actor: User) -> Discrepancy:
    """The proposer takes a proposal back, or a supervisor declines it."""
    with transaction.atomic():
        discrepancy = _locked(discrepancy)
        if discrepancy.proposed_by_id != actor.pk and not actor.has_perm(APPROVE):
            raise errors.PermissionDenied(gettext("Only the proposer or a supervisor withdraws a proposal."))
        _unclaimed(discrepancy)
        discrepancy.proposed_action, discrepancy.proposed_amount, discrepancy.proposed_by = "", None, None
        discrepancy.proposed_at, discrepancy.proposal_reason = None, ""
        discrepancy.save()
    return discrepancy


def discrepancy_ignore(*, discrepancy: Discrepancy, actor: User, reason: str) -> Discrepancy:
    """Close it without moving money (explained elsewhere); the reason is logged."""
    return _close(discrepancy, actor, "ignore", reason)


def discrepancy_resolve(*, discrepancy: Discrepancy, actor: User, reason: str) -> Discrepancy:
    """Close it as fixed without a money step here (a re-query settled it, say)."""
    return _close(discrepancy, actor, "resolve", reason)


def _close(discrepancy: Discrepancy, actor: User, name: str, reason: str) -> Discrepancy:
    _reason_check(reason)
    with transaction.atomic():
        discrepancy = _locked(discrepancy)
        if discrepancy.proposed_action:
            raise errors.Conflict(gettext("A proposal is waiting for approval: withdraw it first."))
        _step(discrepancy, name, actor, reason)
    return discrepancy


def _carry_out(discrepancy: Discrepancy, actor: User) -> str:
    if discrepancy.proposed_action == Action.CORRECTION:
        return _correction_post(discrepancy)
    return _channel_truth(discrepancy, actor=actor)


def _correction_post(discrepancy: Discrepancy) -> str:
    amount, channel = discrepancy.proposed_amount, discrepancy.channel
    if amount is None or channel is None:  # the proposal checked both
        raise errors.Conflict(gettext("The correction has no amount or no channel."))
    ledger.transfer_post(
        idempotency_key=f"recon:correction:{discrepancy.pk}",
        kind="reconciliation_correction",
        legs=[
            ledger.Leg(ledger.account_for_system(code=f"clearing:{channel.code}"), amount),
            ledger.Leg(ledger.account_for_system(code=CORRECTION_ACCOUNT), -amount),
        ],
        memo=discrepancy.proposal_reason[:255],
        reference=discrepancy.order_no,
    )
    return f"posted {amount} to clearing:{channel.code}"


def _channel_truth(discrepancy: Discrepancy, *, actor: User | None = None) -> str:
    """What applying the channel's truth does to the order (checked at proposal, done at
    approval with ``actor``): a payment the channel collected is booked as paid; one we booked
    that the channel never collected is reversed; a payout we booked as paid that the channel
    did not pay is reversed to the wallet."""
    kind, number, channel_status = discrepancy.object_kind, discrepancy.order_no, discrepancy.channel_status
    reason = f"reconciliation {discrepancy.bill_date}: {discrepancy.get_kind_display()}"
    if kind == "payment" and (order := PaymentOrder.objects.filter(order_no=number).first()):
        if channel_status == "success" and order.status != PaymentOrder.Status.SUCCESS:
            if actor is not None:
                order_services.payment_order_recover(order=order, actor=actor, reason=reason)
            return "the payment is booked as paid"
        if channel_status in NOT_SEEN and order.status == PaymentOrder.Status.SUCCESS:
            if actor is not None:
                order_services.payment_order_reverse(order=order, actor=actor, reason=reason)
            return "the payment is reversed"
    withdrawal = Withdrawal.objects.filter(order_no=number).first() if kind == "payout" else None
    if withdrawal is not None and channel_status in NOT_SEEN and withdrawal.status == WithdrawalStatus.SUCCESS:
        if actor is not None:
            withdrawal_services.withdrawal_reverse(withdrawal=withdrawal, reason=reason)
        return "the payout is reversed to the wallet"
    raise errors.Conflict(
        gettext("The channel's truth has no transition to apply here: re-query the channel or post a correction."),
        fields={"action": Action.APPLY_CHANNEL},
    )


def _locked(discrepancy: Discrepancy) -> Discrepancy:
    return Discrepancy.objects.select_for_update(of=("self",)).select_related("channel").get(pk=discrepancy.pk)


def _step(discrepancy: Discrepancy, name: str, actor: User, description: str) -> None:
    method = getattr(discrepancy, name)
    if not can_proceed(method):
        raise errors.Conflict(
            gettext("The discrepancy is %(status)s; it cannot %(step)s.") % {"status": discrepancy.status, "step": name}
        )
    if not has_transition_perm(method, actor):
        raise errors.PermissionDenied(gettext("You may not work on discrepancies."))
    method(by=actor, description=description)
    discrepancy.save()


def _work_check(actor: User) -> None:
    if not actor.has_perm(WORK):
        raise errors.PermissionDenied(gettext("You may not work on discrepancies."))


def _reason_check(reason: str) -> None:
    if not reason or not reason.strip():
        raise errors.ValidationFailed(gettext("Give a reason."), fields={"reason": "required"})
