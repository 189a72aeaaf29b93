"""Every write of withdrawals: payout accounts and the withdrawal life cycle (docs/ARCHITECTURE.md §5).

A use case is one transaction: lock the withdrawal row, check the transition, move the money
through wallet.services, save the new state (django-fsm-log records who and why), and enqueue
Celery work on commit only. Money never moves before the state that explains it is saved in
the same transaction, and a transition the state or the actor does not allow changes nothing.
"""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed, has_transition_perm
from django_fsm_log.models import StateLog

from payments import encryption, identifiers
from payments.channels import selectors as channel_selectors
from payments.channels.models import PayoutAccountKind
from payments.notifications.models import UserNotification
from payments.notifications.services import notification_create
from payments.order_numbers import order_no_new
from payments.signals import order_finished_on_commit
from payments.withdrawals import dispatch, locks, selectors
from payments.withdrawals.models import (
    PayoutAccount,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalStatus,
    approvals_complete,
)
from risk import services as risk_services
from risk.models import RiskEvaluation
from risk.rules import WithdrawalFacts, period_starts
from wallet import errors
from wallet import services as ledger
from wallet.campaigns import services as campaign_services
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.money import ZERO, display_amount, is_positive_cents

ORDER_PREFIX = "WD"

SEALED_COLUMNS = {
    "openid_sealed": PayoutAccount.OPENID,
    "card_number_sealed": PayoutAccount.CARD_NUMBER,
    "holder_name_sealed": PayoutAccount.HOLDER_NAME,
    "alipay_login_sealed": PayoutAccount.ALIPAY_LOGIN,
}

_REFUSALS: dict[str, type[errors.ApplicationError]] = {
    "limit_exceeded": errors.LimitExceeded,
    "risk_rejected": errors.RiskRejected,
    "window_closed": errors.WindowClosed,
    "not_available": errors.NotAvailable,
}


@dataclass(frozen=True)
class Submission:
    withdrawal: Withdrawal
    created: bool


def payout_account_bind(
    *,
    user: User,
    kind: str,
    openid: str = "",
    card_number: str = "",
    holder_name: str = "",
    bank_code: str = "",
    login_id: str = "",
    real_name: str = "",
) -> tuple[PayoutAccount, bool]:
    """Bind a WeChat openid, a bank card or an Alipay account (login id and the real name Alipay
    checks) to the user; binding the same one again returns it."""
    account = PayoutAccount(user=user, kind=kind)
    if kind == PayoutAccountKind.WECHAT_OPENID:
        value = identifiers.openid_normalise(openid)
        account.openid_sealed = encryption.seal(value, field=PayoutAccount.OPENID)
        account.lookup_index = encryption.blind_index(value, field=PayoutAccount.OPENID)
        account.masked_number = identifiers.openid_mask(value)
    elif kind == PayoutAccountKind.BANK_CARD:
        digits = identifiers.card_number_normalise(card_number)
        name = identifiers.holder_name_normalise(holder_name)
        account.bank_code = identifiers.bank_code_normalise(bank_code)
        account.card_number_sealed = encryption.seal(digits, field=PayoutAccount.CARD_NUMBER)
        account.holder_name_sealed = encryption.seal(name, field=PayoutAccount.HOLDER_NAME)
        account.lookup_index = encryption.blind_index(digits, field=PayoutAccount.CARD_NUMBER)
        account.masked_number = identifiers.card_number_mask(digits)
        account.masked_holder = identifiers.name_mask(name)
    elif kind == PayoutAccountKind.ALIPAY:
        login = identifiers.alipay_login_normalise(login_id)
        name = identifiers.real_name_normalise(real_name)
        account.alipay_login_sealed = encryption.seal(login, field=PayoutAccount.ALIPAY_LOGIN)
        account.holder_name_sealed = encryption.seal(name, field=PayoutAccount.HOLDER_NAME)
        account.lookup_index = encryption.blind_index(login, field=PayoutAccount.ALIPAY_LOGIN)
        account.masked_number = identifiers.alipay_login_mask(login)
        account.masked_holder = identifiers.name_mask(name)
    else:
        raise errors.ValidationFailed(_("Unknown payout account kind."), fields={"kind": "invalid"})
    existing = PayoutAccount.objects.filter(user=user, lookup_index=account.lookup_index).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        # The same account bound by a concurrent request a moment ago.
        return PayoutAccount.objects.get(user=user, lookup_index=account.lookup_index), False
    return account, True


def payout_accounts_reseal(*, limit: int) -> int:
    """Re-seal up to ``limit`` payout accounts still sealed under an older key; how many were."""
    current = f"{encryption.key_ring().current_id}{encryption.SEPARATOR}"
    stale = Q()
    for column in SEALED_COLUMNS:
        stale |= ~Q(**{column: ""}) & ~Q(**{f"{column}__startswith": current})
    accounts = PayoutAccount.objects.filter(stale).order_by("pk").select_for_update(of=("self",))[:limit]
    count = 0
    for account in accounts:
        for column, field in SEALED_COLUMNS.items():
            sealed = getattr(account, column)
            if sealed:
                setattr(account, column, encryption.seal(encryption.unseal(sealed, field=field), field=field))
        account.save(update_fields=list(SEALED_COLUMNS))
        count += 1
    return count


def withdrawal_submit(
    *, user: User, payout_account: PayoutAccount, amount: Decimal, idempotency_key: str
) -> Submission:
    """Validate, price, evaluate risk and hold the money, all in one transaction.

    The client's ``idempotency_key`` (unique per user) makes a retry return the first order;
    the same key with another account or amount is a conflict. A submission the risk rules
    refuse creates no order and keeps only its evaluation, so it uses no quota.
    """
    key = idempotency_key_normalise(idempotency_key)
    if payout_account.user_id != user.pk:
        raise errors.ValidationFailed(_("No such payout account."), fields={"payout_account": "not_found"})
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    fingerprint = hashlib.sha256(f"{payout_account.pk}|{amount}".encode()).hexdigest()
    replay = _submission_replay(user=user, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay

    channel = channel_selectors.payout_channel_for(kind=payout_account.kind, amount=amount)
    if channel is None:
        raise errors.NoChannel(_("No enabled payout channel accepts this amount."), fields={"amount": "no_channel"})
    fee = channel.fee_for(amount)
    if amount - fee <= ZERO:
        raise errors.ValidationFailed(
            _("The amount must be more than the fee of %(fee)s.") % {"fee": fee}, fields={"amount": "below_fee"}
        )
    if channel.min_amount is not None and amount - fee < channel.min_amount:
        # What the channel pays is the amount less the fee: below its minimum it would refuse
        # the transfer after the money is held, and the order could never finish.
        raise errors.ValidationFailed(
            _("After the fee of %(fee)s, less than the channel's minimum payout of %(min_amount)s would be paid.")
            % {"fee": fee, "min_amount": channel.min_amount},
            fields={"amount": "below_minimum"},
        )

    # Every campaign reward accepted for the user is theirs to withdraw: credit them first, in
    # a transaction of their own, so a settle that fails leaves no half-made order (docs/WALLET.md).
    campaign_services.rewards_credit_for_user(user=user)
    refused: RiskEvaluation | None = None
    with transaction.atomic(durable=True):
        locks.user_withdrawals_lock(user.pk)
        replay = _submission_replay(user=user, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        now = timezone.now()
        starts = period_starts(now)
        history = selectors.withdrawal_history(user_id=user.pk, since=starts)
        evaluation = risk_services.withdrawal_risk_evaluate(
            facts=WithdrawalFacts(
                user_id=user.pk,
                user_active=user.is_active,
                amount=amount,
                payout_fingerprint=payout_account.lookup_index,
                counts=history.counts,
                amounts=history.amounts,
                now=now,
            )
        )
        if evaluation.outcome == RiskEvaluation.Outcome.REJECT:
            # Commit the evaluation alone (the reviewer's record of the refusal), then refuse.
            refused = evaluation
        else:
            account = ledger.account_for_user(user=user)
            order_no = order_no_new(ORDER_PREFIX)
            hold = ledger.hold_place(
                idempotency_key=f"withdrawal:{order_no}", account=account, amount=amount, reference=order_no
            )
            allowed = evaluation.outcome == RiskEvaluation.Outcome.ALLOW
            withdrawal = Withdrawal.objects.create(
                order_no=order_no,
                user=user,
                payout_account=payout_account,
                channel=channel,
                amount=amount,
                fee=fee,
                actual_amount=amount - fee,
                currency=account.currency,
                status=WithdrawalStatus.APPROVED if allowed else WithdrawalStatus.PENDING,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                hold_id=hold.pk,
                risk_evaluation=evaluation,
                approvals_required=max(evaluation.approvals_required, 1),
                created_at=now,
                approved_at=now if allowed else None,
            )
            StateLog.objects.create(
                content_object=withdrawal,
                transition="submit",
                source_state=None,
                state=withdrawal.status,
                by=user,
                description=f"risk: {evaluation.outcome}",
                timestamp=now,
            )
            if allowed:
                _dispatch_on_commit(withdrawal)
    if refused is not None:
        deciding = next((hit["rule"] for hit in refused.hits if hit["action"] == "reject"), "")
        raise _REFUSALS[refused.refusal_code](refused.refusal_message, fields={"risk_rule": deciding})
    return Submission(withdrawal=withdrawal, created=True)


def _submission_replay(*, user: User, key: str, fingerprint: str) -> Submission | None:
    previous = idempotent_replay(
        Withdrawal.objects.filter(user=user), key=key, fingerprint=fingerprint, what="withdrawal"
    )
    return None if previous is None else Submission(withdrawal=previous, created=False)


def withdrawal_approve(*, withdrawal: Withdrawal, actor: User, note: str = "") -> Withdrawal:
    """Record the actor's approval; the last one needed moves the order to ``approved``.

    At or above the four-eyes threshold two distinct staff approve, at least one of them a
    finance supervisor, in either order. The approval and the transition commit together, then
    the payout is enqueued.
    """
    with transaction.atomic(durable=True):
        withdrawal = locks.withdrawal_lock(withdrawal.pk)
        refusal = selectors.withdrawal_approval_refusal(withdrawal=withdrawal, actor=actor)
        if refusal is not None:
            raise refusal
        WithdrawalApproval.objects.create(
            withdrawal=withdrawal,
            actor=actor,
            as_supervisor=selectors.is_supervisor(actor),
            note=note,
        )
        if approvals_complete(withdrawal):
            withdrawal.approve(by=actor, description=note)
            withdrawal.save(update_fields=["status", "approved_at", "updated_at"])
            _dispatch_on_commit(withdrawal)
    return withdrawal


def withdrawal_reject(*, withdrawal: Withdrawal, actor: User, reason: str) -> Withdrawal:
    """Refuse a pending withdrawal (a reason is required) and give the held money back."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.ValidationFailed(_("A rejection needs a reason."), fields={"reason": "required"})
    with transaction.atomic(durable=True):
        withdrawal = locks.withdrawal_lock(withdrawal.pk)
        _check_transition(withdrawal, "reject", actor=actor)
        withdrawal.reject(by=actor, description=reason)
        withdrawal.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
        ledger.hold_release(hold=withdrawal.hold_id)
        order_finished_on_commit(Withdrawal, kind="payout", pk=withdrawal.pk, order_no=withdrawal.order_no)
    return withdrawal


def withdrawal_cancel(*, withdrawal: Withdrawal, actor: User, reason: str = "") -> Withdrawal:
    """The owner withdraws the request before it is dispatched; cancelling twice is a no-op."""
    with transaction.atomic(durable=True):
        withdrawal = locks.withdrawal_lock(withdrawal.pk)
        if withdrawal.user_id != actor.pk:
            raise errors.PermissionDenied(_("Only the owner can cancel a withdrawal."))
        if withdrawal.status == WithdrawalStatus.CANCELLED:
            return withdrawal
        _check_transition(withdrawal, "cancel")
        withdrawal.cancel(by=actor, description=reason.strip() or "Cancelled by the user.")
        withdrawal.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
        ledger.hold_release(hold=withdrawal.hold_id)
        order_finished_on_commit(Withdrawal, kind="payout", pk=withdrawal.pk, order_no=withdrawal.order_no)
    return withdrawal


def withdrawal_dispatch(*, withdrawal: Withdrawal) -> Withdrawal:
    """``approved`` -> ``processing``, committed before any request leaves for the channel."""
    with transaction.atomic(durable=True):
        withdrawal = locks.withdrawal_lock(withdrawal.pk)
        if withdrawal.status == WithdrawalStatus.PROCESSING:
            return withdrawal
        _check_transition(withdrawal, "dispatch")
        withdrawal.dispatch()
        withdrawal.save(update_fields=["status", "dispatched_at", "updated_at"])
    return withdrawal


def withdrawal_succeed(*, withdrawal: Withdrawal, channel_reference: str = "") -> Withdrawal:
    """The channel paid: capture the hold, ``actual_amount`` to the channel's clearing account
    and ``fee`` to fee income. Again on a paid order (returned since, or not) is a no-op."""
    with transaction.atomic(durable=True):
        return _succeed(withdrawal, channel_reference)


def withdrawal_return(*, withdrawal: Withdrawal, channel_reference: str, reason: str) -> Withdrawal:
    """The channel paid and the payee's bank returned it before we heard of either: success and
    the reversal in one transaction, so a crash between them cannot leave it ``success``."""
    with transaction.atomic(durable=True):
        return _reverse(_succeed(withdrawal, channel_reference), reason)


@transaction.atomic
def _succeed(withdrawal: Withdrawal, channel_reference: str) -> Withdrawal:
    withdrawal = locks.withdrawal_lock(withdrawal.pk)
    if withdrawal.status in (WithdrawalStatus.SUCCESS, WithdrawalStatus.REFUNDED):
        return withdrawal
    _check_transition(withdrawal, "succeed")
    withdrawal.succeed(description=channel_reference)
    withdrawal.channel_reference = channel_reference
    withdrawal.save(update_fields=["status", "channel_reference", "finished_at", "updated_at"])
    destinations = [ledger.Leg(_clearing_account(withdrawal), withdrawal.actual_amount)]
    if withdrawal.fee > ZERO:
        destinations.append(ledger.Leg(ledger.account_for_system(code="fees"), withdrawal.fee))
    ledger.hold_capture(hold=withdrawal.hold_id, destinations=destinations, kind="withdrawal", memo=withdrawal.order_no)
    order_finished_on_commit(Withdrawal, kind="payout", pk=withdrawal.pk, order_no=withdrawal.order_no)
    notification_create(
        user=withdrawal.user,
        kind=UserNotification.Kind.WITHDRAWAL_SUCCEEDED,
        reference=withdrawal.order_no,
        params={"order_no": withdrawal.order_no, "amount": display_amount(withdrawal.actual_amount)},
    )
    return withdrawal


def withdrawal_fail(*, withdrawal: Withdrawal, code: str, message: str) -> Withdrawal:
    """The channel definitely refused: release the hold. Never for an unknown outcome (docs/ARCHITECTURE.md §5)."""
    with transaction.atomic(durable=True):
        withdrawal = locks.withdrawal_lock(withdrawal.pk)
        if withdrawal.status == WithdrawalStatus.FAILED:
            return withdrawal
        _check_transition(withdrawal, "fail")
        withdrawal.fail(description=f"{code}: {message}")
        withdrawal.failure_code = code
        withdrawal.save(update_fields=["status", "status_reason", "failure_code", "finished_at", "updated_at"])
        ledger.hold_release(hold=withdrawal.hold_id)
        order_finished_on_commit(Withdrawal, kind="payout", pk=withdrawal.pk, order_no=withdrawal.order_no)
        notification_create(
            user=withdrawal.user,
            kind=UserNotification.Kind.WITHDRAWAL_FAILED,
            reference=withdrawal.order_no,
            params={"order_no": withdrawal.order_no, "code": code, "amount": display_amount(withdrawal.amount)},
        )
    return withdrawal


def withdrawal_reverse(*, withdrawal: Withdrawal, reason: str) -> Withdrawal:
    """The channel returned money it had paid out (a bank bounce): post the whole amount back."""
    with transaction.atomic(durable=True):
        return _reverse(withdrawal, reason)


@transaction.atomic
def _reverse(withdrawal: Withdrawal, reason: str) -> Withdrawal:
    withdrawal = locks.withdrawal_lock(withdrawal.pk)
    if withdrawal.status == WithdrawalStatus.REFUNDED:
        return withdrawal
    _check_transition(withdrawal, "reverse")
    withdrawal.reverse(description=reason)
    withdrawal.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
    legs = [
        ledger.Leg(_clearing_account(withdrawal), -withdrawal.actual_amount),
        ledger.Leg(ledger.account_for_user(user=withdrawal.user), withdrawal.amount),
    ]
    if withdrawal.fee > ZERO:
        legs.append(ledger.Leg(ledger.account_for_system(code="fees"), -withdrawal.fee))
    ledger.transfer_post(
        idempotency_key=f"withdrawal:{withdrawal.order_no}:reversal",
        kind="withdrawal_reversal",
        legs=legs,
        memo=reason[:255],
        reference=withdrawal.order_no,
    )
    order_finished_on_commit(Withdrawal, kind="payout", pk=withdrawal.pk, order_no=withdrawal.order_no)
    notification_create(
        user=withdrawal.user,
        kind=UserNotification.Kind.WITHDRAWAL_RETURNED,
        reference=withdrawal.order_no,
        params={"order_no": withdrawal.order_no, "amount": display_amount(withdrawal.amount)},
    )
    return withdrawal


def _check_transition(withdrawal: Withdrawal, name: str, *, actor: User | None = None) -> None:
    method = getattr(withdrawal, name)
    if not can_proceed(method):
        raise errors.Conflict(
            _("Withdrawal %(order_no)s is %(status)s; it cannot %(action)s.")
            % {"order_no": withdrawal.order_no, "status": withdrawal.status, "action": name},
            fields={"status": withdrawal.status},
        )
    if actor is not None and not has_transition_perm(method, actor):
        raise errors.PermissionDenied(_("You may not %(action)s withdrawals.") % {"action": name})


def _clearing_account(withdrawal: Withdrawal):
    return ledger.account_for_system(code=f"clearing:{withdrawal.channel.code}", currency=withdrawal.currency)


def _dispatch_on_commit(withdrawal: Withdrawal) -> None:
    withdrawal_id = withdrawal.pk
    # Robust: a broker blip after commit must not turn a committed withdrawal into an error;
    # the approved sweep sends it all the same.
    transaction.on_commit(lambda: dispatch.dispatch_enqueue(withdrawal_id), robust=True)
