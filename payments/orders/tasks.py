"""Celery tasks of payment orders and refunds: thin wrappers that take ids and call a service."""

from celery import Task, shared_task
from django.conf import settings

from payments.channels.base import RetryableError
from payments.dead_letters.services import dead_letter_record
from payments.orders import refunds, services
from payments.orders.models import Refund

MAX_RETRIES = 3


@shared_task(bind=True, name=refunds.REFUND_SEND_TASK, max_retries=MAX_RETRIES)
def refund_send(self: Task, refund_id: int) -> str:
    """Send a refund to its channel (enqueued on commit of the request). A refund the channel
    did not take is retried with backoff, then becomes a dead letter (the sweep also sends it
    again)."""
    try:
        return refunds.refund_send(refund_id=refund_id)
    except RetryableError as exc:
        attempt = self.request.retries + 1
        if attempt > MAX_RETRIES:
            dead_letter_record(task=self.name, args=[refund_id], error=repr(exc), attempts=attempt)
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
    return refunds.refund_sync(refund=Refund.objects.get(pk=refund_id)).status


@shared_task(name="payments.sweep_expired_payments")
def sweep_expired_payments() -> int:
    """Every minute: close expired payment orders, asking the channel first."""
    return services.payment_orders_expire()
