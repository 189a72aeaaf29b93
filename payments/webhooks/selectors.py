"""Webhook reads: what the sweep must queue again, and whom a red packet's sender is."""

from datetime import datetime, timedelta

from django.db.models import Q

from payments.merchants.models import Merchant
from payments.webhooks.models import WebhookEvent

# A due event's own task normally runs within moments; only those left this long are queued again.
SWEEP_GRACE = timedelta(seconds=15)
SWEEP_BATCH = 1000


def webhook_events_stalled(*, now: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Pending events whose attempt is overdue and that no live worker holds: their task was
    lost, or the worker making the attempt died. Oldest due first."""
    return list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def merchant_of_service_user(*, user_id: int) -> Merchant | None:
    return Merchant.objects.filter(service_user_id=user_id).first()
