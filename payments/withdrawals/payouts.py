"""The payout pipeline (docs/ARCHITECTURE.md §7): approved withdrawals reach the channel exactly once, at the
rate the channel allows, and every order ends final even when workers die and channels misbehave.

Sending one order: take the order's lock (a PostgreSQL session lock, released by the server if
the worker dies), take a token of the channel's rate limit shared by every worker (Redis), commit
``processing`` before the request leaves, then send with the order number as the channel's
idempotency key. The answer decides: success and failure are final; "processing" waits for the
notify; an unknown outcome leaves the order ``processing`` for the sweep's query, never failed.
"""

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from limits import RateLimitItemPerSecond

from payments import metrics
from payments.channels import registry
from payments.channels.base import PayoutNotice, PayoutRequest, PayoutResult, PayoutState
from payments.channels.models import PayoutAccountKind
from payments.withdrawals import services
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet import errors
from wallet.ratelimit import rate_limiter

logger = logging.getLogger(__name__)

# High bits of the order's advisory lock key: "PS" (payout send), then the withdrawal id.
SEND_LOCK_NAMESPACE = 0x5053 << 40
# Waits for a rate-limit token shorter than this are slept through; longer ones are re-queued.
MAX_TOKEN_WAIT = 2.0
SEND_STATES = (WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING)
NON_FINAL = (WithdrawalStatus.PENDING, WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING)
APPROVED_GRACE = timedelta(minutes=1)
PROCESSING_GRACE = timedelta(minutes=10)
ESCALATE_AFTER = timedelta(hours=4)
# Payout accounts whose holder's name goes with the payout: the bank and Alipay check it.
NAMED_KINDS = (PayoutAccountKind.BANK_CARD, PayoutAccountKind.ALIPAY)


class RateLimited(Exception):
    """The channel's rate is used up for longer than a worker should wait: run later."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.2f} s")
        self.wait = wait


def payout_send(*, withdrawal_id: int) -> str:
    """Send an approved (or re-send a processing) withdrawal; returns what happened, for logs.

    Raises ``RetryableError`` / ``UnknownOutcome`` for the task to retry, ``RateLimited`` to
    run later. A redelivered or duplicate task finds the order locked or already final.
    """
    if not Withdrawal.objects.filter(pk=withdrawal_id, status__in=SEND_STATES).exists():
        return "not_sendable"
    with _order_lock(withdrawal_id) as locked:
        if not locked:
            return "busy"
        withdrawal = Withdrawal.objects.select_related("channel", "payout_account").get(pk=withdrawal_id)
        if withdrawal.status not in SEND_STATES:
            return "not_sendable"
        if withdrawal.status == WithdrawalStatus.APPROVED and not withdrawal.channel.enabled:
            # Switched off by operations: nothing leaves, the order stays approved (cancellable)
            # and the approved sweep offers it again every minute.
            return "channel_disabled"
        if not registry.is_reachable(withdrawal.channel):
            # Its credentials are gone and the sandbox is off: the same, until it is configured.
            logger.warning("%s waits: its channel %s is not routed", withdrawal.order_no, withdrawal.channel.code)
            return "channel_unrouted"
        # Everything that can fail before the channel is asked (credentials, decrypting the
        # payee) fails here, while the order is still approved and can be cancelled.
        adapter = registry.payout_adapter(withdrawal.channel)
        request = _payout_request(withdrawal)
        _rate_token_wait(withdrawal)
        if withdrawal.status == WithdrawalStatus.APPROVED:
            try:
                withdrawal = services.withdrawal_dispatch(withdrawal=withdrawal)
            except errors.Conflict:
                return "not_sendable"  # cancelled while waiting for the rate
        result = adapter.payout(request)
        return payout_result_apply(withdrawal=withdrawal, result=result)


def payout_check(*, withdrawal_id: int) -> str:
    """Ask the channel about an order stuck in ``processing`` and act on the answer; an order
    the channel never received is sent again under the same order number."""
    withdrawal = Withdrawal.objects.select_related("channel").get(pk=withdrawal_id)
    if withdrawal.status != WithdrawalStatus.PROCESSING:
        return "not_processing"
    if not registry.is_reachable(withdrawal.channel):
        # Not a transient error to retry: it stays processing, and the sweep asks again later.
        logger.warning("%s not checked: its channel %s is not routed", withdrawal.order_no, withdrawal.channel.code)
        return "channel_unrouted"
    result = registry.payout_adapter(withdrawal.channel).query_payout(withdrawal.order_no)
    if result.state == PayoutState.NOT_FOUND:
        return payout_send(withdrawal_id=withdrawal_id)
    return payout_result_apply(withdrawal=withdrawal, result=result)


def payout_result_apply(*, withdrawal: Withdrawal, result: PayoutResult) -> str:
    """Move the order to what the channel said; "processing" changes nothing. Only an answer
    that changed the order is counted, so a channel's duplicate notifies count once."""
    before = withdrawal.status
    if result.state == PayoutState.SUCCESS:
        withdrawal = services.withdrawal_succeed(withdrawal=withdrawal, channel_reference=result.channel_reference)
    elif result.state == PayoutState.FAILED:
        withdrawal = services.withdrawal_fail(
            withdrawal=withdrawal, code=result.code or "FAILED", message=result.message
        )
    elif result.state == PayoutState.RETURNED:
        withdrawal = services.withdrawal_return(
            withdrawal=withdrawal,
            channel_reference=result.channel_reference,
            reason=result.message or "returned by the bank",
        )
    if withdrawal.status != before:
        _finished_count(withdrawal, result)
    return str(result.state)


def _finished_count(withdrawal: Withdrawal, result: PayoutResult) -> None:
    metrics.WITHDRAWALS_FINISHED.labels(status=result.state, reason=result.code or "").inc()
    if result.state == PayoutState.SUCCESS and withdrawal.approved_at:
        metrics.PAYOUT_LATENCY.observe((timezone.now() - withdrawal.approved_at).total_seconds())


def payout_notice_apply(*, channel_code: str, notice: PayoutNotice) -> Withdrawal:
    """Apply a verified notify. Unknown orders, other amounts and contradictions change nothing
    and raise, so the channel is told to send it again and an operator is alerted."""
    withdrawal = Withdrawal.objects.filter(order_no=notice.order_no, channel__code=channel_code).first()
    if withdrawal is None:
        raise errors.NotFound(
            _("No withdrawal %(order_no)s on channel %(channel_code)s.")
            % {"order_no": notice.order_no, "channel_code": channel_code}
        )
    if notice.amount != withdrawal.actual_amount:
        raise errors.Conflict(
            _("Notify for %(order_no)s says %(amount)s, the order pays %(actual_amount)s.")
            % {"order_no": withdrawal.order_no, "amount": notice.amount, "actual_amount": withdrawal.actual_amount}
        )
    if notice.state == PayoutState.PROCESSING:
        return withdrawal
    if notice.state == PayoutState.FAILED and withdrawal.status in (
        WithdrawalStatus.SUCCESS,
        WithdrawalStatus.REFUNDED,
    ):
        raise errors.Conflict(
            _("Notify says %(order_no)s failed, but it was paid.") % {"order_no": withdrawal.order_no}
        )
    result = PayoutResult(notice.state, notice.channel_reference, notice.code, notice.message)
    payout_result_apply(withdrawal=withdrawal, result=result)
    return Withdrawal.objects.get(pk=withdrawal.pk)


def approved_stuck_ids(*, now=None) -> list[int]:
    """Approved for over a minute and not dispatched: their task was lost or is waiting."""
    cutoff = (now or timezone.now()) - APPROVED_GRACE
    return list(
        Withdrawal.objects.filter(status=WithdrawalStatus.APPROVED, approved_at__lt=cutoff)
        .order_by("approved_at")
        .values_list("pk", flat=True)[:5000]
    )


def processing_stuck_ids(*, now=None) -> list[int]:
    """Processing for over ten minutes: ask the channel."""
    cutoff = (now or timezone.now()) - PROCESSING_GRACE
    return list(
        Withdrawal.objects.filter(status=WithdrawalStatus.PROCESSING, dispatched_at__lt=cutoff)
        .order_by("dispatched_at")
        .values_list("pk", flat=True)[:5000]
    )


def withdrawals_escalate(*, now=None) -> int:
    """Flag orders still not final four hours after submission, once each, with a log line an
    alert can match and a metric."""
    moment = now or timezone.now()
    stale = Withdrawal.objects.filter(
        status__in=NON_FINAL, created_at__lt=moment - ESCALATE_AFTER, escalated_at__isnull=True
    )
    flagged = list(stale.values_list("order_no", "status"))
    Withdrawal.objects.filter(order_no__in=[order_no for order_no, _ in flagged]).update(escalated_at=moment)
    for order_no, status in flagged:
        logger.warning("withdrawal escalated: %s still %s after %s", order_no, status, ESCALATE_AFTER)
    if flagged:
        metrics.WITHDRAWALS_ESCALATED.inc(len(flagged))
    return len(flagged)


def _payout_request(withdrawal: Withdrawal) -> PayoutRequest:
    account = withdrawal.payout_account
    return PayoutRequest(
        order_no=withdrawal.order_no,
        amount=withdrawal.actual_amount,
        currency=withdrawal.currency,
        payee=account.identifier,
        payee_name=account.holder_name if account.kind in NAMED_KINDS else "",
        bank_code=account.bank_code,
        remark="Wallet withdrawal",
        notify_url=registry.notify_url(withdrawal.channel),
    )


def _rate_token_wait(withdrawal: Withdrawal) -> None:
    """Take one of the channel's per-second tokens, shared by every worker; short waits are
    slept (with jitter, so waiting workers do not wake together), long ones re-queued."""
    channel = withdrawal.channel
    item = RateLimitItemPerSecond(channel.rate_limit_per_second)
    limiter = rate_limiter()
    while not limiter.hit(item, "channel", channel.code):
        wait = max(limiter.get_window_stats(item, "channel", channel.code).reset_time - time.time(), 0.0)
        if wait > MAX_TOKEN_WAIT:
            metrics.PAYOUT_RATE_LIMITED.labels(channel=channel.code).inc()
            raise RateLimited(wait)
        time.sleep(wait + random.uniform(0, 0.02))  # noqa: S311 - jitter, not security


@contextmanager
def _order_lock(withdrawal_id: int) -> Iterator[bool]:
    """One sender per order at a time, across workers; the server drops the lock with the
    connection if the worker dies mid-send."""
    key = SEND_LOCK_NAMESPACE | withdrawal_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
