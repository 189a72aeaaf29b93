"""The outbox: a settlement's signal writes the event in the settlement's transaction, so the
event exists if and only if the settlement committed, and its delivery is queued after the commit."""

import pytest
from django.db import DatabaseError, transaction

from payments.signals import merchant_event
from payments.webhooks.models import WebhookEvent
from payments.webhooks.services import DELIVER_TASK
from wallet.signals import red_packet_settled

RED_PACKET_DATA = {"red_packet_no": "R20261207000001", "amount": "88.00", "shares": "8", "remaining": "0.00"}


class SettlementFailed(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_an_event_settled_in_a_committed_transaction_is_stored_and_queued_after_the_commit(make_merchant, sent_tasks):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant

    with transaction.atomic():
        merchant_event.send(
            sender=WebhookEvent,
            merchant_id=merchant.pk,
            event="refund.succeeded",
            notify_url="",
            data={"refund_no": "RF1", "amount": "1.00"},
        )
        assert sent_tasks.named(DELIVER_TASK) == [], "nothing is queued before the settlement commits"

    event = WebhookEvent.objects.get(merchant=merchant)
    assert (event.type, event.target_url, event.status) == (
        "refund.succeeded",
        "https://shop.example.com/hooks",
        WebhookEvent.Status.PENDING,
    )
    assert sent_tasks.named(DELIVER_TASK) == [{"args": [event.pk], "countdown": 0.0}]


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_settlement_that_rolls_back_is_neither_stored_nor_queued(make_merchant, sent_tasks):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant

    with pytest.raises(SettlementFailed), transaction.atomic():
        merchant_event.send(
            sender=WebhookEvent, merchant_id=merchant.pk, event="payment.succeeded", notify_url="", data={}
        )
        assert WebhookEvent.objects.filter(merchant=merchant).count() == 1
        raise SettlementFailed("the ledger refused the settlement after the signal")

    assert not WebhookEvent.objects.filter(merchant=merchant).exists()
    assert sent_tasks.named(DELIVER_TASK) == []


@pytest.mark.django_db
def test_an_orders_own_notify_url_overrides_the_merchants(make_merchant, settle):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant

    event = settle(merchant.pk, notify_url="https://shop.example.com/orders/SO-1001/hooks")

    assert event.target_url == "https://shop.example.com/orders/SO-1001/hooks"


@pytest.mark.django_db
def test_a_merchant_without_a_notify_url_gets_no_event(make_merchant):
    merchant = make_merchant(notify_url="").merchant

    with transaction.atomic():
        merchant_event.send(
            sender=WebhookEvent, merchant_id=merchant.pk, event="payment.succeeded", notify_url="", data={}
        )

    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_red_packet_sent_by_a_merchants_service_account_tells_that_merchant(make_merchant):
    merchant = make_merchant(notify_url="https://shop.example.com/hooks").merchant

    with transaction.atomic():
        red_packet_settled.send(
            sender=WebhookEvent,
            sender_user_id=merchant.service_user_id,
            event="red_packet.finished",
            data=RED_PACKET_DATA,
        )

    event = WebhookEvent.objects.get()
    assert (event.merchant, event.type, event.target_url) == (
        merchant,
        "red_packet.finished",
        "https://shop.example.com/hooks",
    )
    assert '"data":{"red_packet_no":"R20261207000001","amount":"88.00"' in event.body


@pytest.mark.django_db
def test_a_red_packet_sent_by_an_ordinary_user_tells_no_one(make_merchant, alice):
    make_merchant(notify_url="https://shop.example.com/hooks")

    with transaction.atomic():
        red_packet_settled.send(
            sender=WebhookEvent, sender_user_id=alice.pk, event="red_packet.expired", data=RED_PACKET_DATA
        )

    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_an_events_content_cannot_be_changed_and_its_attempts_cannot_be_rewritten(
    make_merchant, settle, deliver, receiver, private_urls_allowed
):
    merchant = make_merchant(notify_url=receiver.url("/hooks")).merchant
    event = settle(merchant.pk)
    deliver(event)

    with pytest.raises(DatabaseError), transaction.atomic():
        WebhookEvent.objects.filter(pk=event.pk).update(body='{"id":"forged"}')
    with pytest.raises(DatabaseError), transaction.atomic():
        event.attempts.update(outcome="delivered", http_status=200)
    with pytest.raises(DatabaseError), transaction.atomic():
        event.attempts.all().delete()
