"""Refunds of paid order payments (docs/ARCHITECTURE.md §5): partial and repeated, never more than was paid.

The request locks the payment order, checks what is still refundable (the paid amount less
every refund not failed) and moves the amount from the merchant account to ``escrow:refunds``
(``refund:<no>:reserve``), all in one transaction, so concurrent requests cannot together exceed
the payment, and a merchant account (hot: never locked, allowed below zero by the database) never
gives back more than its orders brought in. A balance payment is refunded to the wallet at once;
a channel refund is sent by a task after commit (``pending -> processing`` is committed before the
HTTP call) and finished by the channel's answer, notify or a query. Success pays the escrow out
(``refund:<no>:settle``), failure gives it back to the merchant (``refund:<no>:release``).
Refunds requested before the escrow carry a hold on the merchant account instead: captured on
success, released on failure, as before (docs/MERCHANTS.md, "Refunds").
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm_log.models import StateLog

from payments import metrics
from payments.channels import base, registry
from payments.channels.models import Channel
from payments.order_numbers import order_no_new
from payments.orders import locks, selectors
from payments.orders.events import event_record
from payments.orders.merchant_events import REFUND_FAILED, REFUND_SUCCEEDED, refund_event_send
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
from payments.orders.services import channel_of, merchant_account_of
from payments.signals import order_finished_on_commit
from wallet import errors
from wallet import services as ledger
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.models import Account
from wallet.money import is_positive_cents
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)

REFUND_PREFIX = "RF"
REFUND_ESCROW = "escrow:refunds"
REFUND_SEND_TASK = "payments.refund_send"
MAX_REASON_LENGTH = 200
# A refund still pending this long lost its send task; one processing this long is queried.
PENDING_STUCK_AFTER = timedelta(minutes=1)
PROCESSING_STUCK_AFTER = timedelta(minutes=10)
Kind = PaymentEvent.Kind
Outcome = PaymentEvent.Outcome


@dataclass(frozen=True)
class RefundCreation:
    refund: Refund
    created: bool


def refund_request(
    *, order: PaymentOrder, actor: User, amount: Decimal, reason: str = "", idempotency_key: str
) -> RefundCreation:
    """Refund ``amount`` of a paid order payment, on the merchant's behalf: ``actor`` is the
    service account of the merchant the order pays (found by the order's settlement account, so
    order payments made before merchants belong to the merchant owning ``merchant:platform``);
    the payer never refunds themself. The actor's key with the same order, amount and reason
    returns the first refund, and with anything else is a conflict; raises ``LimitExceeded`` when
    the amount is more than is still refundable and ``InsufficientFunds`` when a merchant account
    that is not hot cannot cover it."""
    if not PaymentOrder.objects.filter(pk=order.pk, merchant_account__merchant__service_user=actor).exists():
        raise errors.PermissionDenied(_("Refunds are made by the order's merchant."), fields={"merchant": "not_yours"})
    key = idempotency_key_normalise(idempotency_key)
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise errors.ValidationFailed(
            _("The reason is at most %(max_reason_length)s characters.") % {"max_reason_length": MAX_REASON_LENGTH},
            fields={"reason": "too_long"},
        )
    fingerprint = hashlib.sha256(f"{amount}|{reason}".encode()).hexdigest()
    try:
        return _refund_create(order=order, actor=actor, amount=amount, reason=reason, key=key, fingerprint=fingerprint)
    except IntegrityError:
        # The same caller's key taken meanwhile by a request for another order (one for this
        # order waited on its lock): answer as that request's replay would.
        replay = _refund_replay(order=order, actor=actor, key=key, fingerprint=fingerprint)
        if replay is None:
            raise
        return replay


def _refund_replay(*, order: PaymentOrder, actor: User, key: str, fingerprint: str) -> RefundCreation | None:
    previous = idempotent_replay(
        Refund.objects.filter(requested_by=actor),
        key=key,
        fingerprint=fingerprint,
        what="refund",
        payment_order_id=order.pk,
    )
    return None if previous is None else RefundCreation(refund=previous, created=False)


def _refund_create(
    *, order: PaymentOrder, actor: User, amount: Decimal, reason: str, key: str, fingerprint: str
) -> RefundCreation:
    with transaction.atomic(durable=True):
        order = locks.payment_order_lock(order.pk)
        replay = _refund_replay(order=order, actor=actor, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        if order.status != PaymentOrder.Status.SUCCESS:
            raise errors.Conflict(
                _("Order %(order_no)s is %(status)s, not paid.") % {"order_no": order.order_no, "status": order.status},
                fields={"status": order.status},
            )
        refundable = selectors.refundable_amount(order=order)
        if amount > refundable:
            raise errors.LimitExceeded(
                _("Only %(refundable)s of %(order_no)s can still be refunded.")
                % {"refundable": refundable, "order_no": order.order_no},
                fields={"amount": "exceeds_refundable", "refundable": str(refundable)},
            )
        refund_no = order_no_new(REFUND_PREFIX)
        ledger.transfer_post(
            idempotency_key=f"refund:{refund_no}:reserve",
            kind="refund_reserve",
            legs=[ledger.Leg(merchant_account_of(order), -amount), ledger.Leg(_escrow(order), amount)],
            memo=f"refund {refund_no} of {order.order_no} reserved",
            reference=refund_no,
        )
        refund = Refund.objects.create(
            refund_no=refund_no,
            payment_order=order,
            amount=amount,
            currency=order.currency,
            reason=reason,
            requested_by=actor,
            idempotency_key=key,
            request_fingerprint=fingerprint,
        )
        StateLog.objects.create(
            content_object=refund,
            transition="request",
            source_state=None,
            state=refund.status,
            by=actor,
            description=reason,
            timestamp=refund.created_at,
        )
        if order.channel is None:
            _balance_refund(refund, order=order, actor=actor)
        else:
            _send_on_commit(refund.pk)
    return RefundCreation(refund=refund, created=True)


def refund_send(*, refund_id: int) -> str:
    """Send a pending (or re-send a processing) channel refund; the channel's refund number
    makes the second send return the first refund. ``RetryableError`` propagates for the task
    to retry; an unknown outcome leaves it processing for the sweep's query. A failure answered
    to a re-send is not believed (the first send may have been taken): a query decides. A
    channel that lost its route leaves the refund as it is, for the sweep to offer it again."""
    channel = Refund.objects.select_related("payment_order__channel").get(pk=refund_id).payment_order.channel
    if channel is not None and not registry.is_reachable(channel):
        logger.warning("refund %s not sent: its channel %s is not routed", refund_id, channel.code)
        return "channel_unrouted"
    with transaction.atomic(durable=True):
        refund = locks.refund_lock(refund_id)
        resend = refund.status == Refund.Status.PROCESSING
        if refund.status == Refund.Status.PENDING:
            refund.process(description="sent to the channel")
            refund.save()
        elif refund.status != Refund.Status.PROCESSING:
            return refund.status
    order = PaymentOrder.objects.select_related("channel").get(pk=refund.payment_order_id)
    channel = channel_of(order)
    request = base.RefundRequest(
        refund_no=refund.refund_no,
        order_no=order.order_no,
        transaction_id=order.transaction_id,
        amount=refund.amount,
        total_amount=order.amount,
        currency=refund.currency,
        reason=refund.reason,
        notify_url=registry.notify_url(channel),
    )
    record = partial(event_record, operation="refund", channel=channel, payment_order=order, refund=refund)
    record(kind=Kind.REQUEST, outcome=Outcome.SENT, amount=refund.amount, payload={"reason": refund.reason})
    try:
        status = registry.payment_adapter(channel).refund_create(request)
    except (base.RetryableError, base.UnknownOutcome) as exc:
        record(kind=Kind.ANSWER, outcome=Outcome.ERROR, state=type(exc).__name__, message=str(exc))
        if isinstance(exc, base.RetryableError):
            raise
        return "unknown"
    if resend and status.state == base.RefundState.FAILED:
        record(kind=Kind.ANSWER, outcome=Outcome.RECEIVED, state=status.state, payload=status.raw, message=status.code)
        return "query_decides"
    return refund_status_apply(channel=channel, status=status, operation="refund", kind=Kind.ANSWER).status


def refund_status_apply(*, channel: Channel, status: base.RefundStatus, operation: str, kind: str) -> Refund:
    """Apply what the channel says about a refund (its answer, a query or a verified notify).
    Refuses, with an event and the ``refund_refused`` alert metric, an unknown refund, another
    amount, and a final state contradicting the one recorded."""
    try:
        with transaction.atomic(durable=True):
            return _status_apply(channel=channel, status=status, operation=operation, kind=kind)
    except errors.ApplicationError as exc:
        refund = Refund.objects.filter(refund_no=status.refund_no, payment_order__channel=channel).first()
        event_record(
            operation=operation,
            kind=kind,
            outcome=Outcome.REFUSED,
            channel=channel,
            payment_order=refund.payment_order if refund else None,
            refund=refund,
            reference=status.refund_no,
            state=status.state,
            payload=status.raw,
            message=str(exc.message),
        )
        metrics.PAYMENT_ANOMALIES.labels(kind="refund_refused").inc()
        logger.error("refused %s %s of %s from %s: %s", operation, kind, status.refund_no, channel.code, exc.message)
        raise


def refund_sync(*, refund: Refund) -> Refund:
    """Ask the channel about a processing refund; one it never received is sent again by the
    ``refund_send`` task (never from here: readers and the admin must not move money)."""
    if refund.status != Refund.Status.PROCESSING:
        return refund
    order = PaymentOrder.objects.select_related("channel").get(pk=refund.payment_order_id)
    channel = channel_of(order)
    if not registry.is_reachable(channel):
        logger.warning("refund %s not checked: its channel %s is not routed", refund.refund_no, channel.code)
        return refund
    event_record(
        operation="refund_query",
        kind=Kind.REQUEST,
        outcome=Outcome.SENT,
        channel=channel,
        payment_order=order,
        refund=refund,
    )
    try:
        status = registry.payment_adapter(channel).refund_query(refund.refund_no, order_no=order.order_no)
    except (base.RetryableError, base.UnknownOutcome) as exc:
        event_record(
            operation="refund_query",
            kind=Kind.ANSWER,
            outcome=Outcome.ERROR,
            channel=channel,
            payment_order=order,
            refund=refund,
            state=type(exc).__name__,
            message=str(exc),
        )
        return Refund.objects.get(pk=refund.pk)
    if status.state == base.RefundState.NOT_FOUND:
        event_record(
            operation="refund_query",
            kind=Kind.ANSWER,
            outcome=Outcome.RECEIVED,
            channel=channel,
            payment_order=order,
            refund=refund,
            state=status.state,
            message="the channel has no such refund: it is sent again",
        )
        _send_on_commit(refund.pk)
        return refund
    try:
        return refund_status_apply(channel=channel, status=status, operation="refund_query", kind=Kind.ANSWER)
    except errors.ApplicationError:
        return Refund.objects.get(pk=refund.pk)


def refunds_stuck(*, now=None) -> tuple[list[int], list[int]]:
    """(pending ids whose send task was lost, processing ids to query), oldest first."""
    now = now or timezone.now()
    pending = Refund.objects.filter(status=Refund.Status.PENDING, created_at__lte=now - PENDING_STUCK_AFTER)
    processing = Refund.objects.filter(status=Refund.Status.PROCESSING, sent_at__lte=now - PROCESSING_STUCK_AFTER)
    return (
        list(pending.order_by("created_at").values_list("pk", flat=True)[:500]),
        list(processing.order_by("sent_at").values_list("pk", flat=True)[:500]),
    )


def _status_apply(*, channel: Channel, status: base.RefundStatus, operation: str, kind: str) -> Refund:
    found = (
        Refund.objects.filter(refund_no=status.refund_no, payment_order__channel=channel)
        .values_list("pk", "payment_order_id")
        .first()
    )
    if found is None:
        raise errors.NotFound(
            _("No %(code)s refund %(refund_no)s.") % {"code": channel.code, "refund_no": repr(status.refund_no[:64])}
        )
    order = locks.payment_order_lock(found[1])
    refund = locks.refund_lock(found[0])
    if status.amount is not None and status.amount != refund.amount:
        metrics.PAYMENT_ANOMALIES.labels(kind="refund_mismatch").inc()
        raise errors.Conflict(
            _("The channel's amount of refund %(refund_no)s differs.") % {"refund_no": refund.refund_no},
            fields={"amount": "mismatch"},
        )
    if status.order_no and status.order_no != order.order_no:
        metrics.PAYMENT_ANOMALIES.labels(kind="refund_mismatch").inc()
        raise errors.Conflict(
            _("The channel names another order for refund %(refund_no)s.") % {"refund_no": refund.refund_no},
            fields={"order_no": "mismatch"},
        )
    record = partial(
        event_record,
        operation=operation,
        kind=kind,
        channel=channel,
        payment_order=order,
        refund=refund,
        state=status.state,
        payload=status.raw,
    )
    final = {base.RefundState.SUCCESS: Refund.Status.SUCCESS, base.RefundState.FAILED: Refund.Status.FAILED}
    if status.state not in final:
        record(outcome=Outcome.RECEIVED, message=status.message)
        return refund
    if refund.status == final[status.state]:
        record(outcome=Outcome.DUPLICATE)
        return refund
    if refund.status not in (Refund.Status.PENDING, Refund.Status.PROCESSING):
        metrics.PAYMENT_ANOMALIES.labels(kind="refund_contradiction").inc()
        raise errors.Conflict(
            _("Refund %(refund_no)s is %(status)s but the channel says %(state)s.")
            % {"refund_no": refund.refund_no, "status": refund.status, "state": status.state},
            fields={"status": refund.status},
        )
    if refund.status == Refund.Status.PENDING:
        refund.process(description="answered before it was marked sent")
    refund.channel_refund_id = status.refund_id[:64]
    if status.state == base.RefundState.SUCCESS:
        _refund_succeed(refund, order=order, destination=_clearing(order), description=f"refunded ({operation})")
        record(outcome=Outcome.APPLIED, amount=refund.amount)
    else:
        refund.failure_code = status.code[:64]
        refund.fail(description=status.message or status.code or "refused by the channel")
        refund.save()
        _reserve_give_back(refund, order=order)
        order_finished_on_commit(Refund, kind="refund", pk=refund.pk, order_no=refund.refund_no)
        record(outcome=Outcome.APPLIED, message=status.message)
        refund_event_send(refund, order=order, event=REFUND_FAILED)
    return refund


def _balance_refund(refund: Refund, *, order: PaymentOrder, actor: User) -> None:
    """A balance payment goes back to the payer's wallet at once."""
    refund.process(by=actor, description="to the wallet balance")
    payer = ledger.account_for_user(user=order.user, currency=order.currency)
    _refund_succeed(refund, order=order, destination=payer, description="refunded to the wallet", actor=actor)
    event_record(
        operation="refund",
        kind=Kind.BALANCE,
        outcome=Outcome.APPLIED,
        payment_order=order,
        refund=refund,
        amount=refund.amount,
    )


def _refund_succeed(
    refund: Refund, *, order: PaymentOrder, destination: Account, description: str, actor: User | None = None
) -> None:
    refund.succeed(by=actor, description=description)
    refund.save()
    memo = f"refund {refund.refund_no} of {order.order_no}"
    if refund.hold_id is not None:
        ledger.hold_capture(
            hold=refund.hold_id, destinations=[ledger.Leg(destination, refund.amount)], kind="refund", memo=memo
        )
    else:
        ledger.transfer_post(
            idempotency_key=f"refund:{refund.refund_no}:settle",
            kind="refund",
            legs=[ledger.Leg(_escrow(order), -refund.amount), ledger.Leg(destination, refund.amount)],
            memo=memo,
            reference=refund.refund_no,
        )
    PaymentOrder.objects.filter(pk=order.pk).update(refunded_amount=order.refunded_amount + refund.amount)
    order.refunded_amount += refund.amount
    order_finished_on_commit(Refund, kind="refund", pk=refund.pk, order_no=refund.refund_no)
    refund_event_send(refund, order=order, event=REFUND_SUCCEEDED)


def _reserve_give_back(refund: Refund, *, order: PaymentOrder) -> None:
    """A failed refund's reserve goes back to the merchant (a hold, for refunds before escrow)."""
    if refund.hold_id is not None:
        ledger.hold_release(hold=refund.hold_id)
        return
    ledger.transfer_post(
        idempotency_key=f"refund:{refund.refund_no}:release",
        kind="refund_release",
        legs=[ledger.Leg(_escrow(order), -refund.amount), ledger.Leg(merchant_account_of(order), refund.amount)],
        memo=f"refund {refund.refund_no} of {order.order_no} failed",
        reference=refund.refund_no,
    )


def _escrow(order: PaymentOrder) -> Account:
    return ledger.account_for_system(code=REFUND_ESCROW, currency=order.currency)


def _clearing(order: PaymentOrder) -> Account:
    return ledger.account_for_system(code=f"clearing:{channel_of(order).code}", currency=order.currency)


def _send_on_commit(refund_id: int) -> None:
    # Robust: the refund is committed whatever the broker does; the refund sweep sends it then.
    transaction.on_commit(lambda: task_enqueue(REFUND_SEND_TASK, refund_id), robust=True)
