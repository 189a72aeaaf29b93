"""Celery tasks of the payments app: thin wrappers that take ids, call the pipeline or a
service, and retry (DESIGN §7). Every task is safe to run twice: each one loads the order and
checks its state under the order's lock before doing anything, and a refund sent twice is one
refund at the channel (its refund number is the channel's idempotency key)."""

import logging

from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache

from payments import notifications, payment_orders, payouts, refunds
from payments.channels.base import RetryableError, UnknownOutcome

logger = logging.getLogger(__name__)

MAX_RETRIES = 3
TRANSIENT = (RetryableError, UnknownOutcome)
# While a dispatch task waits in the queue, a marker in Redis says so, and the sweep leaves the
# order alone: behind a long, rate-limited queue every order is "approved for over a minute".
# Past this the marker expires, so a task lost with its broker is sent again after all.
QUEUED_MARKER_SECONDS = 15 * 60


def withdrawal_dispatch_enqueue(withdrawal_id: int) -> None:
    cache.set(_queued_marker(withdrawal_id), 1, timeout=QUEUED_MARKER_SECONDS)
    withdrawal_dispatch.delay(withdrawal_id)


@shared_task(bind=True, name="payments.withdrawal_dispatch", max_retries=MAX_RETRIES)
def withdrawal_dispatch(self: Task, withdrawal_id: int) -> str:
    """Send an approved withdrawal to its channel (enqueued on commit of its approval)."""
    cache.delete(_queued_marker(withdrawal_id))
    return _run(self, payouts.payout_send, withdrawal_id)


@shared_task(bind=True, name="payments.withdrawal_check", max_retries=MAX_RETRIES)
def withdrawal_check(self: Task, withdrawal_id: int) -> str:
    """Ask the channel about a withdrawal stuck in processing and finish it. The sweep enqueues
    it every five minutes, so it is its own retry: no dead letter (one per sweep would flood)."""
    return _run(self, payouts.payout_check, withdrawal_id, dead_letter=False)


@shared_task(name="payments.sweep_approved")
def sweep_approved() -> int:
    """Every minute: re-enqueue approved withdrawals whose dispatch task is neither queued nor done."""
    stuck = payouts.approved_stuck_ids()
    queued = cache.get_many([_queued_marker(withdrawal_id) for withdrawal_id in stuck])
    lost = [withdrawal_id for withdrawal_id in stuck if _queued_marker(withdrawal_id) not in queued]
    for withdrawal_id in lost:
        withdrawal_dispatch_enqueue(withdrawal_id)
    return len(lost)


@shared_task(name="payments.sweep_processing")
def sweep_processing() -> int:
    """Every five minutes: query the channel about withdrawals processing for ten minutes."""
    ids = payouts.processing_stuck_ids()
    for withdrawal_id in ids:
        withdrawal_check.delay(withdrawal_id)
    return len(ids)


@shared_task(name="payments.sweep_escalate")
def sweep_escalate() -> int:
    """Hourly: flag withdrawals, payment orders and refunds still not final after four hours."""
    orders, refund_count = payment_orders.payments_escalate()
    return payouts.withdrawals_escalate() + orders + refund_count


@shared_task(bind=True, name="payments.refund_send", max_retries=MAX_RETRIES)
def refund_send(self: Task, refund_id: int) -> str:
    """Send a refund to its channel (enqueued on commit of the request). A refund the channel
    did not take is retried with backoff, then becomes a dead letter (the sweep also sends it
    again)."""
    try:
        return refunds.refund_send(refund_id=refund_id)
    except RetryableError as exc:
        attempt = self.request.retries + 1
        if attempt > MAX_RETRIES:
            payouts.dead_letter_record(
                task=self.name, args=[refund_id], withdrawal_id=None, error=repr(exc), attempts=attempt
            )
            return "dead_letter"
        raise self.retry(exc=exc, countdown=settings.PAYOUT_RETRY_BASE_SECONDS * 2**self.request.retries) from exc


@shared_task(name="payments.sweep_refunds")
def sweep_refunds() -> int:
    """Every five minutes: resend refunds whose task was lost, query those processing for ten minutes."""
    pending, processing = refunds.refunds_stuck()
    for refund_id in pending:
        refund_send.delay(refund_id)
    for refund_id in processing:
        refund_check.delay(refund_id)
    return len(pending) + len(processing)


@shared_task(name="payments.refund_check")
def refund_check(refund_id: int) -> str:
    return refunds.refund_sync(refund=refunds.Refund.objects.get(pk=refund_id)).status


@shared_task(name="payments.sweep_expired_payments")
def sweep_expired_payments() -> int:
    """Every minute: close expired payment orders, asking the channel first."""
    return payment_orders.payment_orders_expire()


@shared_task(name="payments.notification_send")
def notification_send(notification_id: int) -> None:
    notifications.notification_deliver(notification_id=notification_id)


def _queued_marker(withdrawal_id: int) -> str:
    return f"payments:dispatch-queued:{withdrawal_id}"


def _run(task: Task, step, withdrawal_id: int, *, dead_letter: bool = True) -> str:
    """Run a pipeline step; transient channel trouble is retried with exponential backoff, then
    recorded as a dead letter unless ``dead_letter`` is off (the order stays where it is for
    the sweeps); a used-up rate limit re-queues the task without counting as a retry."""
    try:
        return step(withdrawal_id=withdrawal_id)
    except payouts.RateLimited as limited:
        cache.set(_queued_marker(withdrawal_id), 1, timeout=QUEUED_MARKER_SECONDS)
        task.apply_async(args=[withdrawal_id], countdown=limited.wait)
        return "rate_limited"
    except TRANSIENT as exc:
        attempt = task.request.retries + 1
        if attempt > MAX_RETRIES:
            if not dead_letter:
                logger.warning("%s(%s) unanswered after %s attempts: %s", task.name, withdrawal_id, attempt, exc)
                return "unanswered"
            payouts.dead_letter_record(
                task=task.name, args=[withdrawal_id], withdrawal_id=withdrawal_id, error=repr(exc), attempts=attempt
            )
            return "dead_letter"
        countdown = settings.PAYOUT_RETRY_BASE_SECONDS * 2**task.request.retries
        logger.info("%s(%s) attempt %s: %s; retrying in %.1f s", task.name, withdrawal_id, attempt, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown) from exc
