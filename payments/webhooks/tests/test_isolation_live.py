"""One slow receiver does not delay the others: a real Celery worker delivers to a receiver that
hangs past the timeout and to one that answers at once (docs/WEBHOOKS.md, "Isolation")."""

from datetime import timedelta

import pytest

from payments.tests.worker import wait_until
from payments.webhooks.models import AttemptOutcome, WebhookAttempt, WebhookEvent
from payments.webhooks.tests.receiver import Answer

WORKER_SETTINGS = {
    # The receiver is on loopback: allowed only with DEBUG on, as in the local demo (config.checks).
    "DJANGO_DEBUG": "true",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_READ_TIMEOUT": "1",
    "WEBHOOK_MERCHANT_CONCURRENCY": "1",
    "WEBHOOK_BUSY_RETRY_SECONDS": "0.2",
    # One attempt per round: a timed-out event is failed at once, so the test sees the end.
    "WEBHOOK_RETRY_DELAYS": "0",
}


def statuses(events: list[WebhookEvent]) -> set[str]:
    return set(WebhookEvent.objects.filter(pk__in=[event.pk for event in events]).values_list("status", flat=True))


def attempts_of(events: list[WebhookEvent]) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(event__in=events).order_by("started_at"))


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_hangs_takes_only_its_merchants_slot_and_the_other_merchants_events_are_delivered(
    receiver, make_merchant, settle, celery_worker_process, private_urls_allowed
):
    worker = celery_worker_process
    worker.env |= WORKER_SETTINGS
    worker.start()  # four worker processes, one slot per merchant
    slow = make_merchant(notify_url=receiver.url("/slow")).merchant
    fast = make_merchant(notify_url=receiver.url("/fast")).merchant
    receiver.script("/slow", [Answer(hold=30)])

    slow_events = [settle(slow.pk) for _ in range(6)]
    fast_events = [settle(fast.pk) for _ in range(4)]

    wait_until(lambda: statuses(fast_events) == {"succeeded"}, timeout=60, message="fast events delivered")
    wait_until(lambda: statuses(slow_events) == {"failed"}, timeout=120, message="slow events given up")
    fast_attempts, slow_attempts = attempts_of(fast_events), attempts_of(slow_events)
    assert [attempt.outcome for attempt in fast_attempts] == [AttemptOutcome.DELIVERED] * 4
    assert [attempt.outcome for attempt in slow_attempts] == [AttemptOutcome.TIMEOUT] * 6
    # The hanging receiver never had two of our requests at once: it held one worker, not four.
    for earlier, later in zip(slow_attempts, slow_attempts[1:], strict=False):
        assert earlier.started_at + timedelta(milliseconds=earlier.latency_ms) <= later.started_at
    # And the other merchant did not wait for it: all delivered before its last attempt began.
    fast_done = max(attempt.started_at + timedelta(milliseconds=attempt.latency_ms) for attempt in fast_attempts)
    assert fast_done < slow_attempts[-1].started_at
