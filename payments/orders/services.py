"""Payment orders: wallet recharges and order payments, by a channel or by the balance
(docs/ARCHITECTURE.md §5, §6).

A channel order is committed ``pending`` before the channel is called (never an HTTP call
inside a transaction), ``paying`` once the channel opened it, and ``success`` only when a
verified notify or query says PAID with the order's own amount, currency, app and merchant.
Every exchange is a ``PaymentEvent``; the ledger moves once per order (idempotency key
``payment:<order_no>``), so duplicate and concurrent notifies credit once.
"""

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed
from django_fsm_log.models import StateLog

from payments import metrics
from payments.channels import base, registry
from payments.channels import selectors as channel_selectors
from payments.channels.models import METHOD_CLIENT_TYPES, Channel, ClientType, PaymentMethod
from payments.order_numbers import order_no_new
from payments.orders import locks
from payments.orders.events import event_record
from payments.orders.merchant_events import PAYMENT_CLOSED, PAYMENT_SUCCEEDED, payment_event_send
from payments.orders.models import BusinessType, PaymentEvent, PaymentOrder, Refund
from payments.signals import order_finished_on_commit
from wallet import errors
from wallet import services as ledger
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.models import Account
from wallet.money import is_positive_cents

logger = logging.getLogger(__name__)

# An order whose channel did not answer the close is looked at again after this.
CLOSE_RETRY_AFTER = timedelta(minutes=5)
ESCALATE_AFTER = timedelta(hours=4)
# How many stuck numbers each hourly run names in the log (the metrics count them all).
ESCALATE_LOG_LIMIT = 100
EXPIRY_SWEEP_LOCK = "payments:expiry-sweep"
EXPIRY_SWEEP_LOCK_SECONDS = 300

ORDER_PREFIXES = {BusinessType.RECHARGE: "RC", BusinessType.ORDER_PAYMENT: "PM"}
RECHARGE_SUBJECT = "钱包充值"
Kind = PaymentEvent.Kind
Outcome = PaymentEvent.Outcome


@dataclass(frozen=True)
class Creation:
    order: PaymentOrder
    created: bool


def payment_order_create(
    *,
    user: User,
    business_type: str,
    method: str,
    amount: Decimal,
    client_type: str,
    idempotency_key: str,
    subject: str = "",
    client_ip: str | None = None,
    payer_id: str = "",
    return_url: str = "",
) -> Creation:
    """Create a wallet recharge and open it at the channel. Order payments are created by their
    merchant (payments.merchants) and paid with ``payment_order_pay``: the payer never sets the
    amount of what they buy.

    The same ``idempotency_key`` (per user) with the same request returns the first order;
    with another request it is a conflict. Raises ``NoChannel`` when no enabled channel serves
    the method, client and amount, and ``ChannelUnavailable`` when the channel could not be asked
    (the order failed) or did not answer (it stays pending: the same request again asks the
    channel again, and the expiry sweep closes it otherwise).
    """
    key = idempotency_key_normalise(idempotency_key)
    if business_type != BusinessType.RECHARGE:
        raise errors.ValidationFailed(
            _("Order payments are created by the merchant, and the payer pays them."),
            fields={"business_type": "invalid"},
        )
    subject = (subject or "").strip() or RECHARGE_SUBJECT
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    _means_check(method=method, client_type=client_type, payer_id=payer_id)
    if method == PaymentMethod.BALANCE:
        raise errors.ValidationFailed(_("A wallet cannot be recharged from itself."), fields={"method": "invalid"})
    fingerprint = hashlib.sha256(
        "|".join([business_type, method, str(amount), client_type, subject, "", payer_id, return_url]).encode()
    ).hexdigest()
    replay = _replay(user=user, key=key, fingerprint=fingerprint)
    if replay is not None:
        return _reopened(replay, payer_id=payer_id)
    terms = {
        "user": user,
        "business_type": business_type,
        "method": method,
        "client_type": client_type,
        "subject": subject,
        "amount": amount,
        "idempotency_key": key,
        "request_fingerprint": fingerprint,
        "client_ip": client_ip or None,
        "return_url": return_url,
    }
    channel = _route(method=method, client_type=client_type, amount=amount)
    adapter = registry.payment_adapter(channel)
    try:
        order = _channel_order_create(terms, channel=channel, adapter=adapter)
    except IntegrityError:
        replay = _replay(user=user, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        raise
    return Creation(order=_open_at_channel(order, adapter=adapter, payer_id=payer_id), created=True)


def payment_order_pay(
    *,
    order: PaymentOrder,
    payer: User,
    method: str,
    client_type: str,
    payer_id: str = "",
    return_url: str = "",
    client_ip: str | None = None,
) -> Creation:
    """The payer pays an order payment their merchant made for them, at the merchant's amount:
    ``balance`` debits their wallet to the merchant's account at once; a channel method opens
    it at the routed channel. Only ``order``'s own payer may (anyone else: ``NotFound``).

    Paying is idempotent by the order: the same method and client again return the order as it
    stands (``created`` False), asking the channel again while it never answered; another way
    once it left ``awaiting`` is a conflict. A channel that refuses or does not take it gives it
    back to ``awaiting`` (the payer may choose again): ``NotAvailable`` or ``ChannelUnavailable``.
    """
    if order.user_id != payer.pk or order.merchant_id is None:
        raise errors.NotFound(_("No such order."))
    _means_check(method=method, client_type=client_type, payer_id=payer_id)
    if order.status != PaymentOrder.Status.AWAITING:
        return _paid_again(order, method=method, client_type=client_type, payer_id=payer_id)
    if method == PaymentMethod.BALANCE:
        return Creation(
            order=_balance_pay(order, payer=payer, client_type=client_type, client_ip=client_ip), created=True
        )
    channel = _route(method=method, client_type=client_type, amount=order.amount)
    adapter = registry.payment_adapter(channel)
    means = {
        "method": method,
        "client_type": client_type,
        "channel": channel,
        "fee": channel.fee_for(order.amount),
        "channel_merchant_id": adapter.merchant_id,
        "channel_app_id": adapter.app_id,
        "return_url": return_url,
        "client_ip": client_ip or None,
    }
    chosen = _means_choose(order, payer=payer, means=means)
    if chosen is None:
        return _paid_again(_fresh(order), method=method, client_type=client_type, payer_id=payer_id)
    order = _open_at_channel(chosen, adapter=adapter, payer_id=payer_id)
    if order.status == PaymentOrder.Status.AWAITING:
        raise errors.NotAvailable(
            _("The channel refused this payment: %(status_reason)s. Choose another way to pay.")
            % {"status_reason": order.status_reason},
            fields={"method": "refused", "order_no": order.order_no},
        )
    return Creation(order=order, created=True)


def payment_status_apply(
    *,
    channel: Channel,
    status: base.PaymentStatus,
    operation: str,
    kind: str = Kind.NOTIFY,
    actor: User | None = None,
) -> PaymentOrder:
    """Apply what the channel says about a payment (a verified notify, a query or close answer).

    Refuses, with an event and the ``payment_refused`` alert metric, a status for an unknown
    order or one contradicting the order (amount, currency, app, merchant), and a payment of
    an order already closed (money to give back by hand). Applying PAID twice is a no-op.
    """
    try:
        with transaction.atomic(durable=True):
            return _status_apply(channel=channel, status=status, operation=operation, kind=kind, actor=actor)
    except errors.ApplicationError as exc:
        order = PaymentOrder.objects.filter(order_no=status.order_no, channel=channel).first()
        event_record(
            operation=operation,
            kind=kind,
            outcome=Outcome.REFUSED,
            channel=channel,
            payment_order=order,
            reference=status.order_no,
            state=status.state,
            amount=status.amount,
            payload=status.raw,
            message=str(exc.message),
        )
        metrics.PAYMENT_ANOMALIES.labels(kind="payment_refused").inc()
        logger.error("refused %s %s of %s from %s: %s", operation, kind, status.order_no, channel.code, exc.message)
        raise


def payment_order_sync(*, order: PaymentOrder) -> PaymentOrder:
    """Ask the channel about an open order and apply its answer; anything else is returned as is.
    A channel that does not answer, or contradicts the order, leaves it unchanged."""
    if not order.is_open or order.channel is None:
        return order
    channel = order.channel
    try:
        adapter = registry.payment_adapter(channel)
    except base.ChannelUnrouted as exc:
        logger.warning("query of %s not sent: %s", order.order_no, exc)
        return order
    _request_sent(order, operation="query")
    try:
        status = adapter.payment_query(order.order_no)
    except (base.RetryableError, base.UnknownOutcome) as exc:
        _channel_error(order, operation="query", exc=exc)
        return _fresh(order)
    try:
        return payment_status_apply(channel=channel, status=status, operation="query", kind=Kind.ANSWER)
    except errors.ApplicationError:
        return _fresh(order)


def payment_order_close(*, order: PaymentOrder, actor: User | None = None, reason: str = "") -> PaymentOrder:
    """Close an open order: ask the channel first, so a payment made but never notified makes
    it ``success``; otherwise close it at the channel, then here. The sweep calls this for
    expired orders; staff or the payer (``actor``, in the transition log) may call it earlier.
    Without an answer from the channel (or while the channel cannot close it yet) it stays
    open, and the sweep leaves it alone for a while."""
    order = payment_order_sync(order=order)
    if order.status == PaymentOrder.Status.AWAITING:
        return _awaiting_close(order, actor=actor, reason=reason or ("closed by staff" if actor else "expired"))
    if not order.is_open:
        return order
    if order.channel is None:
        raise errors.Conflict(_("A balance payment is never open."))
    channel = order.channel
    try:
        adapter = registry.payment_adapter(channel)
    except base.ChannelUnrouted as exc:
        # Not closed here either: the payer may have paid at the channel meanwhile.
        logger.warning("close of %s not sent: %s", order.order_no, exc)
        PaymentOrder.objects.filter(pk=order.pk).update(next_check_at=timezone.now() + CLOSE_RETRY_AFTER)
        return _fresh(order)
    _request_sent(order, operation="close")
    try:
        status = adapter.payment_close(order.order_no, expires_at=order.expires_at)
    except (base.RetryableError, base.UnknownOutcome) as exc:
        _channel_error(order, operation="close", exc=exc)
        PaymentOrder.objects.filter(pk=order.pk).update(next_check_at=timezone.now() + CLOSE_RETRY_AFTER)
        return _fresh(order)
    if status.state == base.PaymentState.NOT_FOUND:
        status = base.PaymentStatus(order_no=order.order_no, state=base.PaymentState.CLOSED, raw=status.raw)
    reason = reason or ("closed by staff" if actor else "expired")
    try:
        return payment_status_apply(
            channel=channel, status=_closing(status, reason=reason), operation="close", kind=Kind.ANSWER, actor=actor
        )
    except errors.ApplicationError:
        return _fresh(order)


@transaction.atomic(durable=True)
def _awaiting_close(order: PaymentOrder, *, actor: User | None, reason: str) -> PaymentOrder:
    """An order nobody chose a way to pay is open nowhere but here: closed without asking a channel."""
    order = locks.payment_order_lock(order.pk)
    if order.status != PaymentOrder.Status.AWAITING:
        return order
    order.close(by=actor, description=reason)
    order.save()
    order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
    payment_event_send(order, event=PAYMENT_CLOSED)
    return order


def payment_orders_expire(*, limit: int = 200) -> int:
    """Close (or find paid) the open orders past ``expires_at``, oldest first; returns how many
    were looked at. One sweep at a time (a Redis lock). An order whose channel did not answer
    is left alone for ``CLOSE_RETRY_AFTER``, so a channel's outage cannot starve the others,
    and an order that fails unexpectedly is logged and counted without stopping the sweep."""
    if not cache.add(EXPIRY_SWEEP_LOCK, 1, timeout=EXPIRY_SWEEP_LOCK_SECONDS):
        return 0
    try:
        now = timezone.now()
        due = list(
            PaymentOrder.objects.filter(status__in=PaymentOrder.OPEN_STATUSES, expires_at__lte=now)
            .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
            .select_related("channel")
            .order_by("expires_at", "id")[:limit]
        )
        for order in due:
            try:
                payment_order_close(order=order)
            except Exception:
                logger.exception("expiring %s failed", order.order_no)
                metrics.PAYMENT_ANOMALIES.labels(kind="payment_expiry_error").inc()
                PaymentOrder.objects.filter(pk=order.pk).update(next_check_at=timezone.now() + CLOSE_RETRY_AFTER)
        return len(due)
    finally:
        cache.delete(EXPIRY_SWEEP_LOCK)


def payments_escalate(*, now=None) -> tuple[int, int]:
    """(open orders, unfinished refunds) older than ``ESCALATE_AFTER``: logged and kept as the
    ``wallet_stuck`` metric, hourly, until someone acts."""
    now = now or timezone.now()
    cutoff = now - ESCALATE_AFTER
    # An order awaiting its payer within the expiry its merchant gave it is not stuck.
    orders = PaymentOrder.objects.filter(status__in=PaymentOrder.OPEN_STATUSES, created_at__lt=cutoff).exclude(
        status=PaymentOrder.Status.AWAITING, expires_at__gt=now
    )
    refunds = Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING], created_at__lt=cutoff)
    numbers = [
        *orders.order_by("created_at").values_list("order_no", flat=True)[:ESCALATE_LOG_LIMIT],
        *refunds.order_by("created_at").values_list("refund_no", flat=True)[:ESCALATE_LOG_LIMIT],
    ]
    for number in numbers:
        logger.error("payment escalated: %s is not final four hours after it was created", number)
    stuck = (orders.count(), refunds.count())
    metrics.STUCK.labels(kind="payment_orders").set(stuck[0])
    metrics.STUCK.labels(kind="refunds").set(stuck[1])
    return stuck


@transaction.atomic(durable=True)
def payment_order_recover(*, order: PaymentOrder, actor: User, reason: str, transaction_id: str = "") -> PaymentOrder:
    """Reconciliation found the channel collected an order we did not book as paid (paid after
    close, a lost notify): book it now, credited once (the ledger key is the order's)."""
    order = locks.payment_order_lock(order.pk)
    if order.status == PaymentOrder.Status.SUCCESS:
        return order
    if order.channel is None or not can_proceed(order.recover):
        raise errors.Conflict(
            _("Order %(order_no)s is %(status)s; it cannot be recovered.")
            % {"order_no": order.order_no, "status": order.status}
        )
    order.transaction_id = order.transaction_id or transaction_id[:64]
    order.recover(by=actor, description=reason)
    order.save()
    _collect(order, channel=order.channel)
    order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
    event_record(
        operation="reconciliation", kind=Kind.ANSWER, outcome=Outcome.APPLIED, payment_order=order, amount=order.amount
    )
    payment_event_send(order, event=PAYMENT_SUCCEEDED)
    return order


@transaction.atomic(durable=True)
def payment_order_reverse(*, order: PaymentOrder, actor: User, reason: str) -> PaymentOrder:
    """Reconciliation found an order we booked as paid that the channel never collected: take
    back what it credited, less what was refunded. ``InsufficientFunds`` when the payer or the
    merchant has spent it (the order stays paid; finance recovers it another way)."""
    order = locks.payment_order_lock(order.pk)
    if order.status == PaymentOrder.Status.REVERSED:
        return order
    if order.channel is None or not can_proceed(order.reverse):
        raise errors.Conflict(
            _("Order %(order_no)s is %(status)s; it cannot be reversed.")
            % {"order_no": order.order_no, "status": order.status}
        )
    if order.refunds.filter(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING]).exists():
        # Their amounts are reserved in escrow already: take back only once they are final.
        raise errors.Conflict(
            _("Order %(order_no)s has refunds under way; reverse it once they are final.")
            % {"order_no": order.order_no}
        )
    order.reverse(by=actor, description=reason)
    order.save()
    amount = order.amount - order.refunded_amount
    if amount > 0:
        destination = (
            ledger.account_for_user(user=order.user, currency=order.currency)
            if order.business_type == BusinessType.RECHARGE
            else merchant_account_of(order)
        )
        clearing = ledger.account_for_system(code=f"clearing:{order.channel.code}", currency=order.currency)
        ledger.transfer_post(
            idempotency_key=f"payment:{order.order_no}:reversal",
            kind=f"{order.business_type}_reversal",
            legs=[ledger.Leg(destination, -amount), ledger.Leg(clearing, amount)],
            memo=reason[:255],
            reference=order.order_no,
        )
    order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
    event_record(
        operation="reconciliation", kind=Kind.ANSWER, outcome=Outcome.APPLIED, payment_order=order, amount=amount
    )
    return order


def _status_apply(
    *, channel: Channel, status: base.PaymentStatus, operation: str, kind: str, actor: User | None
) -> PaymentOrder:
    order = locks.payment_order_lock_by_number(order_no=status.order_no, channel=channel)
    if order is None:
        raise errors.NotFound(
            _("No %(code)s payment order %(order_no)s.")
            % {"code": channel.code, "order_no": repr(status.order_no[:64])}
        )
    _same_terms_check(order, status)
    record = partial(
        event_record,
        operation=operation,
        kind=kind,
        channel=channel,
        payment_order=order,
        state=status.state,
        payload=status.raw,
    )
    if status.state == base.PaymentState.PAID:
        if order.status == PaymentOrder.Status.SUCCESS:
            record(outcome=Outcome.DUPLICATE)
            return order
        if not order.is_open:
            metrics.PAYMENT_ANOMALIES.labels(kind="payment_paid_after_close").inc()
            raise errors.Conflict(
                _("Order %(order_no)s is %(status)s but the channel says it was paid: refund it by hand.")
                % {"order_no": order.order_no, "status": order.status},
                fields={"status": order.status},
            )
        order.transaction_id = status.transaction_id[:64]
        order.paid_at = status.paid_at or timezone.now()
        order.succeed(description=f"paid ({operation} {kind})")
        order.save()
        _collect(order, channel=channel)
        order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
        record(outcome=Outcome.APPLIED, amount=order.amount)
        payment_event_send(order, event=PAYMENT_SUCCEEDED)
    elif status.state == base.PaymentState.CLOSED and order.is_open:
        order.close(by=actor, description=status.message or f"closed at the channel ({operation})")
        order.save()
        order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
        record(outcome=Outcome.APPLIED)
        payment_event_send(order, event=PAYMENT_CLOSED)
    else:
        record(outcome=Outcome.RECEIVED, amount=status.amount, message=status.message)
    return order


def _same_terms_check(order: PaymentOrder, status: base.PaymentStatus) -> None:
    """A channel speaking about this order must agree with it; adapters fill what they know."""
    mismatches = {}
    if status.amount is not None and status.amount != order.amount:
        mismatches["amount"] = "mismatch"
    if status.currency is not None and status.currency != order.currency:
        mismatches["currency"] = "mismatch"
    if status.app_id and status.app_id != order.channel_app_id:
        mismatches["app_id"] = "mismatch"
    if status.merchant_id and status.merchant_id != order.channel_merchant_id:
        mismatches["merchant_id"] = "mismatch"
    if status.state == base.PaymentState.PAID:
        # Money counts only when the channel named the amount, the app and the merchant.
        for name, value in (("amount", status.amount), ("app_id", status.app_id), ("merchant_id", status.merchant_id)):
            if value is None or value == "":
                mismatches[name] = "missing"
    if mismatches:
        metrics.PAYMENT_ANOMALIES.labels(kind="payment_mismatch").inc()
        raise errors.Conflict(
            _("The channel's account of %(order_no)s contradicts the order: %(items)s.")
            % {"order_no": order.order_no, "items": ", ".join(sorted(mismatches))},
            fields=mismatches,
        )


def _collect(order: PaymentOrder, *, channel: Channel) -> None:
    """The money arrived at the channel: from its clearing account to the payer's wallet
    (recharge) or to the merchant (order payment)."""
    clearing = ledger.account_for_system(code=f"clearing:{channel.code}", currency=order.currency)
    if order.business_type == BusinessType.RECHARGE:
        destination = ledger.account_for_user(user=order.user, currency=order.currency)
    else:
        destination = merchant_account_of(order)
    ledger.transfer_post(
        idempotency_key=f"payment:{order.order_no}",
        kind=order.business_type,
        legs=[ledger.Leg(clearing, -order.amount), ledger.Leg(destination, order.amount)],
        memo=order.subject,
        reference=order.order_no,
    )


@transaction.atomic(durable=True)
def _balance_pay(order: PaymentOrder, *, payer: User, client_type: str, client_ip: str | None) -> PaymentOrder:
    """Debit the payer's wallet to the merchant in one transaction: the order stays ``awaiting``
    when the balance does not suffice (``InsufficientFunds``) or the wallet is frozen."""
    order = locks.payment_order_lock(order.pk)
    if order.status != PaymentOrder.Status.AWAITING:
        return _paid_again(order, method=PaymentMethod.BALANCE, client_type=client_type, payer_id="").order
    _not_expired_check(order)
    merchant = merchant_account_of(order)
    wallet = ledger.account_for_user(user=payer, currency=order.currency)
    order.method = PaymentMethod.BALANCE
    order.client_type = client_type
    order.client_ip = client_ip or None
    order.choose(by=payer, description="wallet balance")
    order.save()
    ledger.transfer_post(
        idempotency_key=f"payment:{order.order_no}",
        kind=order.business_type,
        legs=[ledger.Leg(wallet, -order.amount), ledger.Leg(merchant, order.amount)],
        memo=order.subject,
        reference=order.order_no,
    )
    order.succeed(by=payer, description="paid from the wallet balance")
    order.save()
    order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
    event_record(
        operation="balance_debit", kind=Kind.BALANCE, outcome=Outcome.APPLIED, payment_order=order, amount=order.amount
    )
    payment_event_send(order, event=PAYMENT_SUCCEEDED)
    return order


@transaction.atomic(durable=True)
def _means_choose(order: PaymentOrder, *, payer: User, means: dict) -> PaymentOrder | None:
    """Bind the awaiting order to the payer's method and channel (``pending``), committed before
    the channel is called; None when it no longer awaits (a concurrent pay took it)."""
    order = locks.payment_order_lock(order.pk)
    if order.status != PaymentOrder.Status.AWAITING:
        return None
    _not_expired_check(order)
    for name, value in means.items():
        setattr(order, name, value)
    order.choose(by=payer, description=f"{means['method']} at {means['channel'].code}")
    order.save()
    return order


def _not_expired_check(order: PaymentOrder) -> None:
    if order.expires_at <= timezone.now():
        raise errors.Conflict(
            _("Order %(order_no)s expired at %(expires_at)s.")
            % {"order_no": order.order_no, "expires_at": order.expires_at.isoformat()},
            fields={"status": "expired"},
        )


def _paid_again(order: PaymentOrder, *, method: str, client_type: str, payer_id: str) -> Creation:
    if order.method != method or order.client_type != client_type:
        raise errors.Conflict(
            _("Order %(order_no)s is %(status)s by %(method)s; it cannot be paid another way.")
            % {"order_no": order.order_no, "status": order.status, "method": order.method},
            fields={"status": order.status, "method": order.method},
        )
    if order.status in (PaymentOrder.Status.CLOSED, PaymentOrder.Status.FAILED):
        raise errors.Conflict(
            _("Order %(order_no)s is %(status)s.") % {"order_no": order.order_no, "status": order.status},
            fields={"status": order.status},
        )
    return _reopened(Creation(order=order, created=False), payer_id=payer_id)


def _route(*, method: str, client_type: str, amount: Decimal) -> Channel:
    channel = channel_selectors.payment_channel_for(method=method, client_type=client_type, amount=amount)
    if channel is None:
        raise errors.NoChannel(
            _("No enabled channel takes this method from this client for this amount."),
            fields={"method": "no_channel"},
        )
    return channel


@transaction.atomic(durable=True)
def _channel_order_create(terms: dict, *, channel: Channel, adapter: base.PaymentAdapter) -> PaymentOrder:
    expires_at = timezone.now() + timedelta(minutes=settings.PAYMENT_ORDER_TTL_MINUTES)
    return order_create(
        terms,
        channel=channel,
        expires_at=expires_at,
        fee=channel.fee_for(terms["amount"]),
        channel_merchant_id=adapter.merchant_id,
        channel_app_id=adapter.app_id,
    )


def order_create(terms: dict, *, by: User | None = None, **fields) -> PaymentOrder:
    """Insert the order and the first line of its transition log (``create``, by ``by``, else the payer)."""
    order = PaymentOrder.objects.create(
        order_no=order_no_new(ORDER_PREFIXES[terms["business_type"]]), **terms, **fields
    )
    StateLog.objects.create(
        content_object=order,
        transition="create",
        source_state=None,
        state=order.status,
        by=by or terms["user"],
        description=f"{order.business_type} by {order.method or 'the method the payer will choose'}",
        timestamp=order.created_at,
    )
    return order


def _open_at_channel(order: PaymentOrder, *, adapter: base.PaymentAdapter, payer_id: str) -> PaymentOrder:
    """Ask the channel to open the committed order, then record what it said."""
    channel = channel_of(order)
    request = base.PaymentRequest(
        order_no=order.order_no,
        amount=order.amount,
        currency=order.currency,
        subject=order.subject,
        method=base.PaymentMethod(order.method),
        notify_url=registry.notify_url(channel),
        expires_at=order.expires_at,
        client_ip=order.client_ip or "",
        payer_id=payer_id,
        return_url=order.return_url,
    )
    event_record(
        operation="create",
        kind=Kind.REQUEST,
        outcome=Outcome.SENT,
        channel=channel,
        payment_order=order,
        amount=order.amount,
        payload={
            "method": request.method,
            "subject": request.subject,
            "amount": request.amount,
            "currency": request.currency,
            "notify_url": request.notify_url,
            "expires_at": request.expires_at.isoformat(),
            "payer_id": payer_id,
        },
    )
    try:
        start = adapter.payment_create(request)
    except base.PaymentRefused as exc:
        return _open_failed(order, exc, state="refused", message=f"refused by the channel: {exc}")
    except base.RetryableError as exc:
        _open_failed(order, exc, state="not_taken", message=f"not taken by the channel: {exc}")
        raise errors.ChannelUnavailable(fields={"order_no": order.order_no}) from exc
    except base.UnknownOutcome as exc:
        _channel_error(order, operation="create", exc=exc)
        raise errors.ChannelUnavailable(fields={"order_no": order.order_no}) from exc
    with transaction.atomic(durable=True):
        order = locks.payment_order_lock(order.pk)
        if order.status == PaymentOrder.Status.PENDING:
            order.pay_params = _pay_params(start)
            order.start(description="opened at the channel")
            order.save()
        event_record(
            operation="create",
            kind=Kind.ANSWER,
            outcome=Outcome.APPLIED,
            channel=channel,
            payment_order=order,
            payload=start.raw,
        )
    return order


def _open_failed(order: PaymentOrder, exc: base.ChannelError, *, state: str, message: str) -> PaymentOrder:
    """A channel that refused the order or never took it: a recharge fails; a merchant's order
    goes back to ``awaiting`` (it was never open anywhere), so its payer may choose again.

    Unless an earlier send went unanswered: that one may have opened the order at the channel,
    and a refusal of the re-send says nothing about it. The order then stays ``pending`` on its
    channel, where a payment still counts, until the expiry sweep's query and close decide."""
    with transaction.atomic(durable=True):
        order = locks.payment_order_lock(order.pk)
        channel = order.channel
        if order.status == PaymentOrder.Status.PENDING and _may_be_open(order):
            pass
        elif order.status == PaymentOrder.Status.PENDING and order.merchant_id is not None:
            order.failure_code = exc.code[:64]
            order.give_back(description=message[:500])
            order.save()
        elif order.status == PaymentOrder.Status.PENDING:
            order.failure_code = exc.code[:64]
            order.fail(description=message[:500])
            order.save()
            order_finished_on_commit(PaymentOrder, kind="payment", pk=order.pk, order_no=order.order_no)
        event_record(
            operation="create",
            kind=Kind.ANSWER,
            outcome=Outcome.APPLIED,
            channel=channel,
            payment_order=order,
            state=state,
            message=message,
        )
    return order


def _may_be_open(order: PaymentOrder) -> bool:
    """An earlier create went unanswered (``UnknownOutcome``): the channel may hold the order."""
    return PaymentEvent.objects.filter(
        payment_order=order, operation="create", kind=Kind.ANSWER, outcome=Outcome.ERROR
    ).exists()


def _pay_params(start: base.PaymentStart) -> dict:
    params = {
        "code_url": start.code_url,
        "pay_url": start.pay_url,
        "app_params": dict(start.app_params),
        "prepay_id": start.prepay_id,
    }
    return {name: value for name, value in params.items() if value}


def _request_sent(order: PaymentOrder, *, operation: str) -> None:
    event_record(
        operation=operation, kind=Kind.REQUEST, outcome=Outcome.SENT, channel=order.channel, payment_order=order
    )


def _channel_error(order: PaymentOrder, *, operation: str, exc: base.ChannelError) -> None:
    logger.warning("%s of %s at %s: no answer: %s", operation, order.order_no, order.channel, exc)
    event_record(
        operation=operation,
        kind=Kind.ANSWER,
        outcome=Outcome.ERROR,
        channel=order.channel,
        payment_order=order,
        state=type(exc).__name__,
        message=f"{exc.code} {exc}".strip(),
    )


def _closing(status: base.PaymentStatus, *, reason: str) -> base.PaymentStatus:
    if status.state != base.PaymentState.CLOSED or status.message:
        return status
    return replace(status, message=f"closed at the channel ({reason})")


def channel_of(order: PaymentOrder) -> Channel:
    if order.channel is None:
        raise errors.Conflict(_("%(order_no)s is a balance payment: it has no channel.") % {"order_no": order.order_no})
    return order.channel


def merchant_account_of(order: PaymentOrder) -> Account:
    if order.merchant_account is None:
        raise errors.Conflict(_("%(order_no)s is a recharge: it pays no merchant.") % {"order_no": order.order_no})
    return order.merchant_account


def _fresh(order: PaymentOrder) -> PaymentOrder:
    return PaymentOrder.objects.select_related("channel").get(pk=order.pk)


def _means_check(*, method: str, client_type: str, payer_id: str) -> None:
    if method not in PaymentMethod.values:
        raise errors.ValidationFailed(_("Unknown payment method."), fields={"method": "invalid"})
    if client_type not in ClientType.values:
        raise errors.ValidationFailed(_("Unknown client type."), fields={"client_type": "invalid"})
    if client_type not in METHOD_CLIENT_TYPES[method]:
        raise errors.ValidationFailed(
            _("%(method)s cannot be used from the client type %(client_type)s.")
            % {"method": method, "client_type": client_type},
            fields={"client_type": "method_not_available"},
        )
    if method == PaymentMethod.WECHAT_JSAPI and not payer_id:
        raise errors.ValidationFailed(_("A JSAPI payment needs the payer's openid."), fields={"payer_id": "required"})


def _reopened(replay: Creation, *, payer_id: str) -> Creation:
    """A replayed order still pending after the channel gave no answer is opened again (the
    order number is the channel's idempotency key); other replays are returned as they are."""
    order = replay.order
    if order.status != PaymentOrder.Status.PENDING or order.channel is None:
        return replay
    try:
        adapter = registry.payment_adapter(order.channel)
    except base.ChannelUnrouted:
        return replay
    try:
        return Creation(order=_open_at_channel(order, adapter=adapter, payer_id=payer_id), created=False)
    except errors.ChannelUnavailable:
        # The unanswered send may have opened it and the payer paid since: WeChat then answers
        # the re-open with "already paid" (an unknown outcome). Ask before calling it unavailable.
        synced = payment_order_sync(order=_fresh(order))
        if synced.status != PaymentOrder.Status.PENDING:
            return Creation(order=synced, created=False)
        raise


def _replay(*, user: User, key: str, fingerprint: str) -> Creation | None:
    previous = idempotent_replay(
        PaymentOrder.objects.select_related("channel").filter(user=user, merchant__isnull=True),
        key=key,
        fingerprint=fingerprint,
        what="payment",
    )
    return None if previous is None else Creation(order=previous, created=False)
