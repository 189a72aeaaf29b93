"""Webhook writes (docs/WEBHOOKS.md): the outbox row, one delivery attempt, the resend.

An attempt runs in three steps so that no database transaction stays open across the HTTP
exchange: claim the event (one UPDATE: due, pending and not claimed by a live worker), POST it
while holding one of the merchant's slots, then record the attempt under the row lock and move
the event on. The claim keeps two workers from delivering one event at once; its lease (longer
than any exchange can take) lets the sweep pick the event up again when a worker died holding it.
"""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from payments import metrics
from payments.merchants.models import Merchant
from payments.webhooks import delivery, signing, slots
from payments.webhooks.delivery import AttemptResult, webhook_post
from payments.webhooks.models import AttemptOutcome, WebhookAttempt, WebhookEvent
from wallet import errors
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)

DELIVER_TASK = "payments.webhook_deliver"
# Beyond the timeouts, how long a claim or a slot outlives the exchange it covers.
LEASE_MARGIN_SECONDS = 30.0


class Outcome:
    """What one run of ``webhook_deliver`` did (the task returns it; logs and tests read it)."""

    DELIVERED = "delivered"
    RETRY = "retry"  # the attempt failed; the next one is scheduled
    FAILED = "failed"  # the attempt failed and was the round's last
    BUSY = "busy"  # the merchant's slots were all taken: no attempt, tried again shortly
    NOT_DUE = "not_due"  # final, not due yet, or claimed by another worker: nothing to do
    SUPERSEDED = "superseded"  # our claim ran out mid-attempt and another worker took over


@dataclass(frozen=True)
class Claim:
    event: WebhookEvent
    token: uuid.UUID


def webhook_event_create(
    *, merchant: Merchant, type: str, data: dict[str, Any], notify_url: str = ""
) -> WebhookEvent | None:
    """The outbox row of an event, in the caller's transaction, delivered once it commits.

    ``notify_url`` overrides the merchant's own; with neither there is nowhere to deliver and
    nothing is written."""
    target_url = notify_url or merchant.notify_url
    if not target_url:
        logger.info("merchant %s has no notify URL: no webhook for %s", merchant.code, type)
        return None
    public_id = uuid.uuid4()
    now = timezone.now()
    first_delay = settings.WEBHOOK_RETRY_DELAYS[0]
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            public_id=public_id,
            merchant=merchant,
            type=type,
            body=signing.event_body(public_id=str(public_id), type=type, created_at=now, data=data),
            target_url=target_url,
            created_at=now,
            next_attempt_at=now + timedelta(seconds=first_delay),
        )
        transaction.on_commit(partial(task_enqueue, DELIVER_TASK, event.pk, countdown=first_delay))
    return event


def webhook_deliver(*, event_id: int) -> str:
    """Make the event's due attempt, if it is due and no other worker is making it."""
    claim = webhook_event_claim(event_id=event_id)
    if claim is None:
        return Outcome.NOT_DUE
    event = claim.event
    with slots.merchant_slot(
        merchant_id=event.merchant_id, cap=settings.WEBHOOK_MERCHANT_CONCURRENCY, lease_seconds=lease_seconds()
    ) as held:
        if not held:
            _defer(claim)
            return Outcome.BUSY
        started_at = timezone.now()
        try:
            result = _post(event, started_at=started_at)
        except Exception as exc:
            # A fault of ours (a secret that no longer unseals): logged as a failed attempt, so
            # the event moves through its schedule to failed where staff see it, instead of
            # being picked up by the sweep forever.
            logger.exception("webhook %s could not be sent", event.public_id)
            error = f"not sent: {type(exc).__name__}: {exc}"[: delivery.ERROR_CHARS]
            result = AttemptResult(AttemptOutcome.CONNECTION_ERROR, latency_ms=0, error=error)
    return _record(claim, started_at=started_at, result=result)


def _post(event: WebhookEvent, *, started_at: datetime) -> AttemptResult:
    body = event.body.encode()
    headers = signing.request_headers(
        public_id=str(event.public_id),
        type=event.type,
        secrets=event.merchant.signing_secrets(now=started_at),
        timestamp=int(started_at.timestamp()),
        body=body,
    )
    return webhook_post(
        url=event.target_url,
        body=body,
        headers=headers,
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
        read_timeout=settings.WEBHOOK_READ_TIMEOUT,
    )


@transaction.atomic(durable=True)
def webhook_resend(*, event: WebhookEvent, actor: User) -> WebhookEvent:
    """Deliver a failed (or delivered) event again from now: a new round of attempts, same event id."""
    event = WebhookEvent.objects.select_for_update().get(pk=event.pk)
    if not can_proceed(event.resend):
        raise errors.Conflict(_("Webhook %(public_id)s is being delivered already.") % {"public_id": event.public_id})
    event.resend(by=actor, description="resent from the admin")
    event.save()
    transaction.on_commit(partial(task_enqueue, DELIVER_TASK, event.pk))
    return event


def lease_seconds() -> float:
    """How long a claim or a slot is held: longer than any exchange can take."""
    return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + LEASE_MARGIN_SECONDS


@transaction.atomic(durable=True)
def webhook_event_claim(*, event_id: int) -> Claim | None:
    """The event, held for this worker until the lease runs out; None when it is final, not due
    yet, or held by another worker."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=lease_seconds()), claim_token=token)
    )
    if not claimed:
        return None
    return Claim(event=WebhookEvent.objects.select_related("merchant").get(pk=event_id), token=token)


def _defer(claim: Claim) -> None:
    """Give the event back untried and make it due again shortly: not an attempt. Moving
    ``next_attempt_at`` also makes any other message for the event find it not due, so a busy
    merchant's events each keep one message going, however many the sweep added. Spread, so the
    waiting events do not all come back at the same moment."""
    delay = settings.WEBHOOK_BUSY_RETRY_SECONDS * random.uniform(1.0, 1.5)  # noqa: S311 - spreading, not a secret
    WebhookEvent.objects.filter(pk=claim.event.pk, claim_token=claim.token).update(
        claimed_until=None, claim_token=None, next_attempt_at=timezone.now() + timedelta(seconds=delay)
    )
    task_enqueue(DELIVER_TASK, claim.event.pk, countdown=delay)


@transaction.atomic(durable=True)
def _record(claim: Claim, *, started_at: datetime, result: AttemptResult) -> str:
    """Log the attempt (always: it happened) and, if our claim still holds, move the event on."""
    event = WebhookEvent.objects.select_for_update().get(pk=claim.event.pk)
    number = event.attempt_count + 1
    WebhookAttempt.objects.create(
        event=event,
        number=number,
        started_at=started_at,
        http_status=result.http_status,
        latency_ms=result.latency_ms,
        outcome=result.outcome,
        answer_excerpt=result.answer_excerpt,
        error=result.error,
    )
    event.attempt_count = number
    if event.claim_token != claim.token or event.status != WebhookEvent.Status.PENDING:
        event.save(update_fields=["attempt_count", "updated_at"])
        return Outcome.SUPERSEDED
    event.claimed_until = None
    event.claim_token = None
    event.round_attempts += 1
    if result.delivered:
        event.succeed(description=f"attempt {number}: SUCCESS")
        event.save()
        return Outcome.DELIVERED
    metrics.WEBHOOK_FAILURES.labels(stage="attempt").inc()
    logger.warning("webhook %s attempt %s to merchant %s: %s", event.public_id, number, event.merchant_id, result.error)
    delays = settings.WEBHOOK_RETRY_DELAYS
    if event.round_attempts >= len(delays):
        event.fail(description=f"attempt {number}: {result.outcome}, the round's last")
        event.save()
        metrics.WEBHOOK_FAILURES.labels(stage="event").inc()
        return Outcome.FAILED
    delay = delays[event.round_attempts]
    event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    event.save()
    transaction.on_commit(partial(task_enqueue, DELIVER_TASK, event.pk, countdown=delay))
    return Outcome.RETRY
