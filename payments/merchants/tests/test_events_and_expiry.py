"""What merchants are told (``merchant_event``, sent inside the settling transaction), and the
life of an order before its payer chooses: expiry, and a channel that refuses or never takes it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from payments.channels import base
from payments.merchants.tests.factories import awaiting_order, merchant_of, order_payment
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder
from payments.signals import merchant_event
from reconciliation.internal import internal_differences
from reconciliation.tests.internal_support import paid_by_channel, recharged, refunded
from wallet import errors
from wallet.models import Account, Transfer

D = Decimal


@pytest.fixture
def events():
    """Every merchant event sent, with whether a transaction was open when it was."""
    sent: list[dict] = []

    def receive(sender, **event):
        sent.append(event | {"in_transaction": connection.in_atomic_block})

    merchant_event.connect(receive, weak=False)
    yield sent
    merchant_event.disconnect(receive)


@pytest.mark.django_db
def test_a_balance_payment_sends_payment_succeeded_once_with_the_json_a_business_system_needs(alice, events):
    # Given an order of the shop with its own notify URL, and alice's money
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00", business_order_no="SO-9", notify_url="https://shop.example/o/9")

    # When alice pays it, and pays it again (a retry)
    paid = payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app").order
    payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")

    # Then the shop was told once, inside the transaction, with strings for money and ISO times
    assert len(events) == 1
    event = events[0]
    assert (event["event"], event["merchant_id"], event["notify_url"]) == (
        "payment.succeeded",
        merchant_of("shop").pk,
        "https://shop.example/o/9",
    )
    assert event["in_transaction"] is True
    data = event["data"]
    assert (data["order_no"], data["business_order_no"], data["amount"], data["status"]) == (
        paid.order_no,
        "SO-9",
        "30.00",
        "success",
    )
    assert paid.paid_at is not None and data["paid_at"] == paid.paid_at.isoformat()


@pytest.mark.django_db(transaction=True)
def test_an_event_rolls_back_with_the_settlement_and_a_failing_receiver_settles_nothing(alice):
    # Given a receiver whose write would commit with the settlement, then one that fails
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00")
    committed: list[str] = []

    def outbox(sender, **event):
        transaction.on_commit(lambda: committed.append(event["event"]))
        raise RuntimeError("the outbox is down")

    merchant_event.connect(outbox, weak=False)
    try:
        # When alice pays
        with pytest.raises(RuntimeError):
            payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")
    finally:
        merchant_event.disconnect(outbox)

    # Then nothing was committed: no event, no money moved, the order still awaits her
    assert committed == []
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.AWAITING
    assert not Transfer.objects.filter(idempotency_key=f"payment:{order.order_no}").exists()
    assert Account.objects.get(owner=alice).balance == D("100.00")


@pytest.mark.django_db(transaction=True)
def test_a_committed_settlement_commits_its_event_once(alice):
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00")
    committed: list[str] = []

    def outbox(sender, **event):
        transaction.on_commit(lambda: committed.append(event["event"]))

    merchant_event.connect(outbox, weak=False)
    try:
        payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")
        payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")
    finally:
        merchant_event.disconnect(outbox)

    assert committed == ["payment.succeeded"]


@pytest.mark.django_db
def test_channel_refunds_tell_the_merchant_whether_they_succeeded_or_failed(make_user, events, refunder):
    # Given a 100.00 order payment collected by WeChat Pay
    order = paid_by_channel(make_user(), "100.00")
    events.clear()

    # When one refund succeeds at the channel and another fails
    done = refunded(order, "30.00", by=refunder)
    failed = refunded(order, "20.00", by=refunder, succeed=False)

    # Then the shop heard of each once, with the refund's number and amount
    assert [(e["event"], e["data"]["refund_no"], e["data"]["amount"], e["data"]["status"]) for e in events] == [
        ("refund.succeeded", done.refund_no, "30.00", "success"),
        ("refund.failed", failed.refund_no, "20.00", "failed"),
    ]
    assert all(e["data"]["order_no"] == order.order_no and e["in_transaction"] for e in events)
    assert internal_differences() == []


@pytest.mark.django_db
def test_an_order_nobody_paid_in_time_is_closed_by_the_sweep_and_the_merchant_told_once(alice, events):
    # Given an order that waited for alice past its expiry
    order = awaiting_order(alice, "30.00", expires_in_minutes=5)
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # When the expiry sweep runs, twice
    payment_orders.payment_orders_expire()
    payment_orders.payment_orders_expire()

    # Then it is closed without asking any channel, and the shop heard it once
    order.refresh_from_db()
    assert (order.status, order.method, order.channel) == (PaymentOrder.Status.CLOSED, "", None)
    assert [e["event"] for e in events] == ["payment.closed"]
    assert events[0]["data"]["status"] == "closed"
    assert not order.events.exists()
    # And it can no longer be paid, while the shop may create the business order again
    with pytest.raises(errors.Conflict):
        payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")
    again = awaiting_order(alice, "30.00", business_order_no=order.business_order_no)
    assert again.pk != order.pk


@pytest.mark.django_db
def test_an_expired_order_the_sweep_has_not_reached_cannot_be_paid(alice):
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00")
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(errors.Conflict) as refused:
        payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")

    assert refused.value.fields == {"status": "expired"}
    assert Account.objects.get(owner=alice).balance == D("100.00")


@pytest.mark.django_db
def test_the_default_expiry_is_the_payment_ttl_and_the_merchant_may_shorten_it(alice, settings):
    settings.PAYMENT_ORDER_TTL_MINUTES = 30
    before = timezone.now()

    default = awaiting_order(alice, "1.00")
    short = awaiting_order(alice, "1.00", expires_in_minutes=2)

    assert before + timedelta(minutes=30) <= default.expires_at <= timezone.now() + timedelta(minutes=30)
    assert short.expires_at <= timezone.now() + timedelta(minutes=2)


@pytest.mark.django_db
def test_a_channel_that_cannot_be_reached_gives_the_order_back_to_the_payer_to_choose_again(alice, settings):
    # Given the sandbox on a port where nothing listens (the request never reaches a channel)
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"
    settings.CHANNEL_READ_TIMEOUT = 2.0
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00")

    # When alice tries WeChat native
    with pytest.raises(errors.ChannelUnavailable):
        payment_orders.payment_order_pay(order=order, payer=alice, method="wechat_native", client_type="web")

    # Then the merchant's order is not dead: it awaits her again, and she pays from her balance
    order.refresh_from_db()
    assert (order.status, order.method, order.channel, order.client_type) == ("awaiting", "", None, "")
    paid = payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app").order
    assert paid.status == PaymentOrder.Status.SUCCESS
    answers = list(paid.events.filter(operation="create", kind="answer").values_list("state", flat=True))
    assert answers == ["not_taken"]


@pytest.mark.django_db
def test_a_channel_that_refuses_the_order_gives_it_back_to_the_payer(alice, monkeypatch):
    # Given a channel that definitely refuses to open payments
    class Refusing:
        merchant_id, app_id = "1900000109", "wx-app-test"

        def payment_create(self, request):
            raise base.PaymentRefused("merchant not allowed", code="NO_AUTH")

    monkeypatch.setattr(payment_orders.registry, "payment_adapter", lambda channel: Refusing())
    order = awaiting_order(alice, "30.00")

    # When alice tries WeChat native
    with pytest.raises(errors.NotAvailable) as refused:
        payment_orders.payment_order_pay(order=order, payer=alice, method="wechat_native", client_type="web")

    # Then she is told to choose again, and the order waits for her
    assert refused.value.fields == {"method": "refused", "order_no": order.order_no}
    order.refresh_from_db()
    assert (order.status, order.failure_code) == (PaymentOrder.Status.AWAITING, "NO_AUTH")


@pytest.mark.django_db
def test_a_resend_refused_after_an_unanswered_send_keeps_the_order_on_its_channel(alice, monkeypatch):
    # Given a channel whose first answer is lost (it may have opened the order) and which then
    # takes neither the re-send nor the query the refused re-send makes
    class LostThenBusy:
        merchant_id, app_id = "1900000109", "wx-app-test"
        answers = [base.UnknownOutcome("read timed out"), base.RetryableError("busy", code="SYSTEMERROR")]

        def payment_create(self, request):
            raise self.answers.pop(0)

        def payment_query(self, order_no):
            raise base.RetryableError("busy", code="SYSTEMERROR")

    monkeypatch.setattr(payment_orders.registry, "payment_adapter", lambda channel: LostThenBusy())
    recharged(alice, "100.00")
    order = awaiting_order(alice, "30.00")

    # When alice tries WeChat native and, after no answer, tries it again
    for _ in range(2):
        with pytest.raises(errors.ChannelUnavailable):
            payment_orders.payment_order_pay(order=order, payer=alice, method="wechat_native", client_type="web")

    # Then the order stays pending on that channel, where a payment of the first send still
    # counts, and she cannot pay it a second time from her balance
    order.refresh_from_db()
    assert order.channel is not None
    assert (order.status, order.method, order.channel.code) == ("pending", "wechat_native", "wechat_pay")
    with pytest.raises(errors.Conflict):
        payment_orders.payment_order_pay(order=order, payer=alice, method="balance", client_type="app")
    assert Account.objects.get(owner=alice).balance == Decimal("100.00")


@pytest.mark.django_db
def test_an_inactive_merchant_cannot_create_payments(alice):
    shop = merchant_of("shop")
    shop.is_active = False
    shop.save(update_fields=["is_active"])

    with pytest.raises(errors.PermissionDenied):
        awaiting_order(alice, "1.00", merchant=shop)

    assert not PaymentOrder.objects.exists()


@pytest.mark.django_db
def test_the_database_keeps_the_terms_of_an_order_once_it_left_awaiting(alice):
    recharged(alice, "100.00")
    order = order_payment(alice, "30.00")

    with pytest.raises(Exception, match="payment_order_means_read_only"), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(method="wechat_native")
    with pytest.raises(Exception, match="payment_order_terms_read_only"), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(amount=D("0.01"))

    assert PaymentOrder.objects.get(pk=order.pk).amount == D("30.00")


@pytest.mark.django_db
def test_an_order_awaiting_its_payer_within_a_long_expiry_is_not_escalated_but_one_past_it_is(alice):
    # Given two orders made five hours ago, one still within its day-long expiry, one past it
    waiting = awaiting_order(alice, "1.00", expires_in_minutes=24 * 60)
    forgotten = awaiting_order(alice, "2.00")
    five_hours_ago = timezone.now() - timedelta(hours=5)
    PaymentOrder.objects.filter(pk__in=[waiting.pk, forgotten.pk]).update(created_at=five_hours_ago)
    PaymentOrder.objects.filter(pk=forgotten.pk).update(expires_at=five_hours_ago + timedelta(minutes=30))

    # Then only the one the sweep should have closed is stuck
    assert payment_orders.payments_escalate() == (1, 0)
