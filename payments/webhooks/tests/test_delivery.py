"""Delivering webhooks to a real receiver on 127.0.0.1: the answer, the retry schedule, giving
up, the resend, and what is logged of every attempt."""

import json

import pytest
from django_fsm_log.models import StateLog

from config.tests.metrics import metric
from payments.webhooks import delivery
from payments.webhooks.models import AttemptOutcome, WebhookEvent
from payments.webhooks.services import DELIVER_TASK, Outcome, webhook_resend
from payments.webhooks.tests.receiver import Answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]

FAILED_TWICE = [Answer(503, b"busy"), Answer(500, b"oops"), Answer(200, b"SUCCESS")]


def outcomes(event: WebhookEvent) -> list[str]:
    return list(event.attempts.order_by("number").values_list("outcome", flat=True))


def test_a_receiver_answering_success_gets_the_event_once_and_it_is_delivered(
    receiver, make_merchant, settle, deliver, sent_tasks
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.DELIVERED

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.SUCCEEDED
    assert event.next_attempt_at is None and event.delivered_at is not None
    [request] = receiver.received("/hooks")
    document = json.loads(request.body)
    assert document == {
        "id": str(event.public_id),
        "type": "payment.succeeded",
        "created_at": event.created_at.isoformat(),
        "data": {"order_no": "P20261207000001", "business_order_no": "SO-1001", "amount": "12.34", "currency": "CNY"},
    }
    assert request.headers["Wallet-Event-Id"] == str(event.public_id)
    assert request.headers["Wallet-Event-Type"] == "payment.succeeded"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    [attempt] = event.attempts.all()
    assert (attempt.number, attempt.outcome, attempt.http_status, attempt.answer_excerpt) == (
        1,
        AttemptOutcome.DELIVERED,
        200,
        "SUCCESS",
    )
    assert sent_tasks.named(DELIVER_TASK) == []


def test_a_receiver_failing_twice_then_answering_success_is_delivered_on_the_third_attempt_with_all_three_logged(
    receiver, make_merchant, settle, deliver, clock
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", FAILED_TWICE)
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY
    clock.shift(30)
    assert deliver(event) == Outcome.RETRY
    clock.shift(60)
    assert deliver(event) == Outcome.DELIVERED

    event.refresh_from_db()
    assert (event.status, event.attempt_count) == (WebhookEvent.Status.SUCCEEDED, 3)
    assert outcomes(event) == [AttemptOutcome.HTTP_ERROR, AttemptOutcome.HTTP_ERROR, AttemptOutcome.DELIVERED]
    assert list(event.attempts.order_by("number").values_list("http_status", "answer_excerpt")) == [
        (503, "busy"),
        (500, "oops"),
        (200, "SUCCESS"),
    ]
    bodies = {request.body for request in receiver.received("/hooks")}
    assert len(bodies) == 1, "every attempt sends the same body"


def test_the_retries_are_queued_at_the_schedules_delays_and_an_early_message_does_nothing(
    receiver, make_merchant, settle, deliver, clock, sent_tasks, django_capture_on_commit_callbacks
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", [Answer(500, b"down")])
    with django_capture_on_commit_callbacks(execute=True):
        event = settle(merchant.pk)

    assert sent_tasks.named(DELIVER_TASK) == [{"args": [event.pk], "countdown": 0.0}]
    assert deliver(event) == Outcome.RETRY
    assert deliver(event) == Outcome.NOT_DUE, "the next attempt is 30 s away: a duplicate message waits"
    for delay in (30, 60, 90, 120):
        clock.shift(delay)
        assert deliver(event) == Outcome.RETRY
    clock.shift(150)
    assert deliver(event) == Outcome.FAILED

    assert [task["countdown"] for task in sent_tasks.named(DELIVER_TASK)] == [0.0, 30.0, 60.0, 90.0, 120.0, 150.0]
    assert len(receiver.received("/hooks")) == 6


def test_an_exhausted_event_is_failed_and_a_resend_delivers_it_under_the_same_id(
    receiver, make_merchant, settle, deliver, clock, sent_tasks, staff_in, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 30.0]
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", [Answer(502, b""), Answer(502, b""), Answer(200, b"  SUCCESS\n")])
    event = settle(merchant.pk)
    failures_before = metric("wallet_webhook_failures_total", stage="event")
    deliver(event)
    clock.shift(30)
    assert deliver(event) == Outcome.FAILED
    event.refresh_from_db()
    assert (event.status, event.next_attempt_at) == (WebhookEvent.Status.FAILED, None)
    assert metric("wallet_webhook_failures_total", stage="event") == failures_before + 1
    assert deliver(event) == Outcome.NOT_DUE, "a failed event is not tried again by itself"

    operator = staff_in("operations")
    with django_capture_on_commit_callbacks(execute=True):
        webhook_resend(event=event, actor=operator)
    assert sent_tasks.named(DELIVER_TASK)[-1] == {"args": [event.pk], "countdown": None}
    assert deliver(event) == Outcome.DELIVERED

    event.refresh_from_db()
    assert (event.status, event.attempt_count) == (WebhookEvent.Status.SUCCEEDED, 3)
    assert outcomes(event) == [AttemptOutcome.HTTP_ERROR, AttemptOutcome.HTTP_ERROR, AttemptOutcome.DELIVERED]
    assert {request.headers["Wallet-Event-Id"] for request in receiver.received("/hooks")} == {str(event.public_id)}
    transitions = StateLog.objects.for_(event).order_by("id").values_list("transition", "by")
    assert list(transitions) == [("fail", None), ("resend", operator.pk), ("succeed", None)]


def test_a_resend_of_an_event_still_being_delivered_is_refused(make_merchant, settle, staff_in):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant
    event = settle(merchant.pk)

    with pytest.raises(Exception, match="being delivered already"):
        webhook_resend(event=event, actor=staff_in("operations"))


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Answer(200, b"OK"), AttemptOutcome.BAD_ANSWER),
        (Answer(200, b""), AttemptOutcome.BAD_ANSWER),
        (Answer(200, b"success"), AttemptOutcome.BAD_ANSWER),
        (Answer(200, b"SUCCESS" + b" " * 2000), AttemptOutcome.BAD_ANSWER),
        (Answer(204, b""), AttemptOutcome.BAD_ANSWER),
        (Answer(400, b"SUCCESS"), AttemptOutcome.HTTP_ERROR),
        (Answer(302, b"SUCCESS", headers=(("Location", "http://127.0.0.1:1/elsewhere"),)), AttemptOutcome.HTTP_ERROR),
    ],
    ids=["200 OK", "200 empty", "lower case", "too long", "204", "400 SUCCESS", "redirect"],
)
def test_anything_but_a_2xx_answering_success_is_a_failed_attempt(
    receiver, make_merchant, settle, deliver, answer, outcome
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", [answer])
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert (attempt.outcome, attempt.http_status) == (outcome, answer.status)
    assert len(attempt.answer_excerpt) <= delivery.EXCERPT_CHARS
    assert len(receiver.received("/elsewhere")) == 0, "a redirect is not followed"


def test_a_receiver_that_answers_after_the_read_timeout_is_a_timeout(
    receiver, make_merchant, settle, deliver, settings
):
    settings.WEBHOOK_READ_TIMEOUT = 0.5
    merchant = make_merchant(notify_url=receiver.url("/slow")).merchant
    receiver.script("/slow", [Answer(hold=5)])
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.TIMEOUT, None)
    assert "timed out" in attempt.error.lower()


def test_a_port_nobody_listens_on_is_a_connection_error(receiver, make_merchant, settle, deliver):
    port = receiver.server.server_port
    receiver.server.server_close()  # the port is free again: nothing accepts on it
    merchant = make_merchant(notify_url=f"http://127.0.0.1:{port}/hooks").merchant
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.RETRY

    [attempt] = event.attempts.all()
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.CONNECTION_ERROR, None)


def test_a_failed_attempt_is_counted_for_the_alerts(receiver, make_merchant, settle, deliver):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", [Answer(500, b"")])
    event = settle(merchant.pk)
    before = metric("wallet_webhook_failures_total", stage="attempt")

    deliver(event)

    assert metric("wallet_webhook_failures_total", stage="attempt") == before + 1


def test_an_event_that_cannot_be_signed_is_a_failed_attempt_and_is_not_sent(
    receiver, make_merchant, settle, deliver, settings
):
    settings.WEBHOOK_RETRY_DELAYS = [0.0]
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    type(merchant).objects.filter(pk=merchant.pk).update(webhook_secret_sealed="v1:not-a-sealed-secret")
    event = settle(merchant.pk)

    assert deliver(event) == Outcome.FAILED

    [attempt] = event.attempts.all()
    assert (attempt.outcome, attempt.http_status) == (AttemptOutcome.CONNECTION_ERROR, None)
    assert attempt.error.startswith("not sent: ")
    assert receiver.received("/hooks") == []


def test_a_delivered_event_resent_on_a_merchants_request_is_delivered_again_under_the_same_id(
    receiver, make_merchant, settle, deliver, staff_in
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)
    assert deliver(event) == Outcome.DELIVERED

    webhook_resend(event=event, actor=staff_in("operations"))
    assert deliver(event) == Outcome.DELIVERED

    event.refresh_from_db()
    assert (event.status, event.attempt_count) == (WebhookEvent.Status.SUCCEEDED, 2)
    first, second = receiver.received("/hooks")
    assert first.body == second.body
    assert first.headers["Wallet-Event-Id"] == second.headers["Wallet-Event-Id"] == str(event.public_id)
