"""At least once, never two at a time: the claim, the per-merchant slots and the sweep."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.webhooks import selectors, services, slots
from payments.webhooks.models import WebhookEvent
from payments.webhooks.services import DELIVER_TASK, Outcome
from payments.webhooks.tasks import sweep_webhooks
from payments.webhooks.tests.receiver import Answer
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.usefixtures("private_urls_allowed")


def test_a_merchants_slots_are_shared_up_to_the_cap_and_freed_when_given_back():
    first = slots.slot_take(merchant_id=7, cap=2, lease_seconds=30)
    second = slots.slot_take(merchant_id=7, cap=2, lease_seconds=30)

    assert first and second
    assert slots.slot_take(merchant_id=7, cap=2, lease_seconds=30) is None
    assert slots.slot_take(merchant_id=8, cap=2, lease_seconds=30), "another merchant has its own slots"
    slots.slot_give_back(merchant_id=7, token=first)
    assert slots.slot_take(merchant_id=7, cap=2, lease_seconds=30)


def test_a_slot_whose_holder_died_is_free_again_when_its_lease_runs_out():
    assert slots.slot_take(merchant_id=9, cap=1, lease_seconds=0.2)
    assert slots.slot_take(merchant_id=9, cap=1, lease_seconds=30) is None

    threading.Event().wait(0.3)  # the dead holder's lease runs out (Redis's clock)

    assert slots.slot_take(merchant_id=9, cap=1, lease_seconds=30)


def test_many_workers_taking_slots_at_once_never_exceed_the_cap():
    outcomes = run_in_threads(
        12, lambda i: "taken" if slots.slot_take(merchant_id=10, cap=3, lease_seconds=30) else "busy"
    )

    assert outcomes == {"taken": 3, "busy": 9}


@pytest.mark.django_db
def test_an_event_whose_merchant_has_no_free_slot_is_not_attempted_and_comes_back_shortly(
    receiver, make_merchant, settle, deliver, sent_tasks, settings, clock
):
    settings.WEBHOOK_MERCHANT_CONCURRENCY = 1
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)
    held = slots.slot_take(merchant_id=merchant.pk, cap=1, lease_seconds=30)
    assert held is not None

    assert deliver(event) == Outcome.BUSY

    event.refresh_from_db()
    assert (event.attempt_count, event.round_attempts, event.claimed_until) == (0, 0, None)
    assert receiver.received("/hooks") == []
    [again] = sent_tasks.named(DELIVER_TASK)
    assert again["args"] == [event.pk]
    assert settings.WEBHOOK_BUSY_RETRY_SECONDS <= again["countdown"] <= settings.WEBHOOK_BUSY_RETRY_SECONDS * 1.5
    assert deliver(event) == Outcome.NOT_DUE, "another message for it (the sweep's) waits too"
    assert len(sent_tasks.named(DELIVER_TASK)) == 1, "and does not start a second loop"
    slots.slot_give_back(merchant_id=merchant.pk, token=held)
    clock.shift(again["countdown"])
    assert deliver(event) == Outcome.DELIVERED


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_events_delivery_at_once_make_one_attempt(receiver, make_merchant, settle):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)
    receiver.script("/hooks", [Answer(hold=1.0)])  # long enough for every worker to try the claim

    outcomes = run_in_threads(4, lambda i: services.webhook_deliver(event_id=event.pk))

    assert outcomes == {Outcome.DELIVERED: 1, Outcome.NOT_DUE: 3}
    assert len(receiver.received("/hooks")) == 1
    assert WebhookEvent.objects.get(pk=event.pk).attempt_count == 1


@pytest.mark.django_db
def test_the_sweep_queues_again_the_overdue_events_no_live_worker_holds(make_merchant, settle, sent_tasks):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant
    lost = settle(merchant.pk)
    worker_died = settle(merchant.pk)
    being_delivered = settle(merchant.pk)
    just_created = settle(merchant.pk)
    now = timezone.now()
    overdue = now - timedelta(minutes=2)
    WebhookEvent.objects.filter(pk__in=[lost.pk, worker_died.pk, being_delivered.pk]).update(next_attempt_at=overdue)
    WebhookEvent.objects.filter(pk=worker_died.pk).update(claimed_until=now - timedelta(seconds=1))
    WebhookEvent.objects.filter(pk=being_delivered.pk).update(claimed_until=now + timedelta(seconds=20))

    assert sweep_webhooks() == 2

    assert [task["args"] for task in sent_tasks.named(DELIVER_TASK)] == [[lost.pk], [worker_died.pk]]
    assert just_created.pk not in selectors.webhook_events_stalled(now=now)


@pytest.mark.django_db
def test_an_event_claimed_by_a_worker_that_died_is_delivered_once_its_claim_runs_out(
    receiver, make_merchant, settle, deliver, clock
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)
    assert services.webhook_event_claim(event_id=event.pk) is not None  # a worker claims it, then is killed
    assert deliver(event) == Outcome.NOT_DUE

    clock.shift(services.lease_seconds() + 1)

    assert deliver(event) == Outcome.DELIVERED
    assert len(receiver.received("/hooks")) == 1
