"""Celery tasks of withdrawals: thin wrappers that take ids, call the payout pipeline, and retry
(docs/PAYOUTS.md). Every task is safe to run twice: each one loads the order and checks its
state under the order's lock before doing anything."""

import logging

from celery import Task, shared_task
from django.conf import settings

from payments.channels.base import RetryableError, UnknownOutcome
from payments.dead_letters.services import dead_letter_record
from payments.withdrawals import dispatch, payouts

logger = logging.getLogger(__name__)

MAX_RETRIES = 3
TRANSIENT = (RetryableError, UnknownOutcome)


@shared_task(bind=True, name=dispatch.DISPATCH_TASK, max_retries=MAX_RETRIES)
def withdrawal_dispatch(self: Task, withdrawal_id: int) -> str:
    """Send an approved withdrawal to its channel (enqueued on commit of its approval)."""
    dispatch.dispatch_started(withdrawal_id)
    return _run(self, payouts.payout_send, withdrawal_id)


@shared_task(bind=True, name="payments.withdrawal_check", max_retries=MAX_RETRIES)
def withdrawal_check(self: Task, withdrawal_id: int) -> str:
    """Ask the channel about a withdrawal stuck in processing and finish it. The sweep enqueues
    it every five minutes, so it is its own retry: no dead letter (one per sweep would flood)."""
    return _run(self, payouts.payout_check, withdrawal_id, dead_letter=False)


@shared_task(name="payments.sweep_approved")
def sweep_approved() -> int:
    """Every minute: re-enqueue approved withdrawals whose dispatch task is neither queued nor done."""
    lost = dispatch.dispatch_not_queued(payouts.approved_stuck_ids())
    for withdrawal_id in lost:
        dispatch.dispatch_enqueue(withdrawal_id)
    return len(lost)


@shared_task(name="payments.sweep_processing")
def sweep_processing() -> int:
    """Every five minutes: query the channel about withdrawals processing for ten minutes."""
    ids = payouts.processing_stuck_ids()
    for withdrawal_id in ids:
        withdrawal_check.delay(withdrawal_id)
    return len(ids)


def _run(task: Task, step, withdrawal_id: int, *, dead_letter: bool = True) -> str:
    """Run a pipeline step; transient channel trouble is retried with exponential backoff, then
    recorded as a dead letter unless ``dead_letter`` is off (the order stays where it is for
    the sweeps); a used-up rate limit re-queues the task without counting as a retry."""
    try:
        return step(withdrawal_id=withdrawal_id)
    except payouts.RateLimited as limited:
        dispatch.dispatch_mark_queued(withdrawal_id)
        task.apply_async(args=[withdrawal_id], countdown=limited.wait)
        return "rate_limited"
    except TRANSIENT as exc:
        attempt = task.request.retries + 1
        if attempt > MAX_RETRIES:
            if not dead_letter:
                logger.warning("%s(%s) unanswered after %s attempts: %s", task.name, withdrawal_id, attempt, exc)
                return "unanswered"
            dead_letter_record(
                task=task.name, args=[withdrawal_id], withdrawal_id=withdrawal_id, error=repr(exc), attempts=attempt
            )
            return "dead_letter"
        countdown = settings.PAYOUT_RETRY_BASE_SECONDS * 2**task.request.retries
        logger.info("%s(%s) attempt %s: %s; retrying in %.1f s", task.name, withdrawal_id, attempt, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown) from exc
