"""Webhook events in the admin: read-only for everyone who sees payments, with the attempts and
transitions on the event's page; operations resend, nobody else does."""

import pytest
from django.urls import reverse

from payments.webhooks.models import WebhookEvent
from payments.webhooks.services import DELIVER_TASK
from payments.webhooks.tests.receiver import Answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]

CHANGELIST = reverse("admin:payments_webhookevent_changelist")


@pytest.fixture
def failed_event(receiver, make_merchant, settle, deliver, settings) -> WebhookEvent:
    settings.WEBHOOK_RETRY_DELAYS = [0.0]
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    receiver.script("/hooks", [Answer(500, b"<h1>Internal error</h1>")])
    event = settle(merchant.pk, event="refund.failed")
    deliver(event)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    return event


@pytest.mark.parametrize("role", ["operations", "auditor", "finance_reviewer", "finance_supervisor"])
def test_staff_who_see_payments_find_a_failed_event_by_merchant_type_and_status_and_read_its_attempts(
    role, failed_event, staff_in, client_for
):
    client = client_for(staff_in(role))

    listed = client.get(
        CHANGELIST,
        {"merchant__id__exact": failed_event.merchant_id, "type": "refund.failed", "status__exact": "failed"},
    )
    page = client.get(reverse("admin:payments_webhookevent_change", args=[failed_event.pk]))

    assert listed.status_code == 200
    assert str(failed_event.public_id) in listed.content.decode()
    assert page.status_code == 200
    content = page.content.decode()
    assert "http_error" in content or "HTTP error" in content
    assert "&lt;h1&gt;Internal error&lt;/h1&gt;" in content, "the receiver's answer is shown escaped"
    assert "the round&#x27;s last" in content, "the transitions are on the page"
    assert 'name="_save"' not in content, "nothing on the page can be changed"


def test_operations_resend_a_failed_event_and_it_is_queued_under_the_same_id(
    failed_event, staff_in, client_for, sent_tasks, django_capture_on_commit_callbacks
):
    client = client_for(staff_in("operations"))

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            CHANGELIST, {"action": "resend_selected", "_selected_action": [failed_event.pk]}, follow=True
        )

    assert "is queued for delivery again" in answer.content.decode()
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.PENDING
    assert sent_tasks.named(DELIVER_TASK) == [{"args": [failed_event.pk], "countdown": None}]


def test_resending_an_event_still_pending_shows_the_refusal_and_queues_nothing(
    make_merchant, settle, staff_in, client_for, sent_tasks
):
    event = settle(make_merchant(notify_url="https://shop.example.com/hooks").merchant.pk)
    client = client_for(staff_in("operations"))

    answer = client.post(CHANGELIST, {"action": "resend_selected", "_selected_action": [event.pk]}, follow=True)

    assert "is being delivered already" in answer.content.decode()
    assert sent_tasks.named(DELIVER_TASK) == []


@pytest.mark.parametrize("role", ["auditor", "finance_reviewer", "finance_supervisor"])
def test_staff_without_the_resend_permission_have_no_resend_action(
    role, failed_event, staff_in, client_for, sent_tasks
):
    client = client_for(staff_in(role))

    listed = client.get(CHANGELIST)
    answer = client.post(CHANGELIST, {"action": "resend_selected", "_selected_action": [failed_event.pk]})

    assert "resend_selected" not in listed.content.decode()
    assert answer.status_code in (200, 302)
    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.FAILED
    assert sent_tasks.named(DELIVER_TASK) == []
