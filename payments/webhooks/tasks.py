"""Celery tasks of webhooks: thin wrappers that take ids and call the services."""

from celery import shared_task
from django.utils import timezone

from payments.webhooks import selectors, services


@shared_task(name=services.DELIVER_TASK)
def webhook_deliver(event_id: int) -> str:
    """Make an event's due attempt; a stale or repeated message does nothing (the claim decides)."""
    return services.webhook_deliver(event_id=event_id)


@shared_task(name="payments.sweep_webhooks")
def sweep_webhooks() -> int:
    """Every minute: queue again the events whose attempt is overdue (a lost message, a dead worker)."""
    stalled = selectors.webhook_events_stalled(now=timezone.now())
    for event_id in stalled:
        webhook_deliver.delay(event_id)
    return len(stalled)
