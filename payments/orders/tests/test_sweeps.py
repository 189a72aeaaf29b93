"""The expiry sweep and escalation under trouble, contradicting channel answers, and refunds
whose channel answers late or oddly: nothing is credited twice or lost, and nothing stops the
sweep for the others."""

import time
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from config.tests.metrics import metric
from payments.channels import base
from payments.channels.models import Channel
from payments.merchants.tests.factories import order_payment
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
from payments.sandbox import payment_engine
from payments.sandbox.models import SandboxPayment, SandboxRefund
from wallet import errors
from wallet.audit import ledger_audit
from wallet.models import Account

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
_keys = count(1)


def open_recharge(user, amount: str = "12.00", method: str = "wechat_native", client_type: str = "web"):
    return payment_orders.payment_order_create(
        user=user,
        business_type="recharge",
        method=method,
        amount=D(amount),
        client_type=client_type,
        idempotency_key=f"k{next(_keys)}",
    ).order


def expire(order: PaymentOrder) -> None:
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=2))


@pytest.fixture
def never_pay():
    for protocol in ("wechat_v3", "wechat_v2", "alipay"):
        payment_engine.payment_rule_add(protocol=protocol, scenario="never_pay")


def test_an_order_that_breaks_the_sweep_is_logged_and_the_others_are_still_closed(
    sandbox_live, never_pay, alice, caplog
):
    # Given two expired orders, the older recorded against a channel that cannot collect at all
    broken = PaymentOrder.objects.create(
        order_no="RC20261128000000000000777",
        user=alice,
        business_type="recharge",
        method="wechat_native",
        channel=Channel.objects.get(code="bank"),
        client_type="web",
        subject="钱包充值",
        amount=D("1.00"),
        idempotency_key="broken",
        request_fingerprint="f",
        expires_at=timezone.now(),
        status="paying",
    )
    fine = open_recharge(alice)
    expire(broken)
    expire(fine)
    errors_before = metric("wallet_payment_anomalies_total", kind="payment_expiry_error")

    payment_orders.payment_orders_expire()

    # Then the broken one is logged, counted and left for later; the other is closed
    assert PaymentOrder.objects.get(pk=fine.pk).status == PaymentOrder.Status.CLOSED
    broken.refresh_from_db()
    assert broken.status == PaymentOrder.Status.PAYING and broken.next_check_at > timezone.now()
    assert f"expiring {broken.order_no} failed" in caplog.text
    assert metric("wallet_payment_anomalies_total", kind="payment_expiry_error") == errors_before + 1


def test_an_order_whose_channel_does_not_answer_the_close_waits_before_the_next_try(
    sandbox_live, never_pay, alice, settings
):
    order = open_recharge(alice)
    expire(order)
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"  # the channel is down

    assert payment_orders.payment_orders_expire() == 1
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PAYING and order.next_check_at is not None

    settings.SANDBOX_BASE_URL = f"{sandbox_live.url}/sandbox"  # back, but the order waits its turn
    assert payment_orders.payment_orders_expire() == 0
    PaymentOrder.objects.filter(pk=order.pk).update(next_check_at=timezone.now() - timedelta(seconds=1))
    assert payment_orders.payment_orders_expire() == 1
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.CLOSED


def test_an_order_and_a_refund_not_final_after_four_hours_are_escalated(sandbox_live, never_pay, alice, caplog):
    order = open_recharge(alice)
    PaymentOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=5))

    assert payment_orders.payments_escalate() == (1, 0)
    assert f"payment escalated: {order.order_no}" in caplog.text
    assert metric("wallet_stuck", kind="payment_orders") == 1


def test_a_notify_naming_another_merchant_credits_nothing_and_is_refused(sandbox_live, never_pay, alice):
    order = open_recharge(alice)
    status = base.PaymentStatus(
        order_no=order.order_no,
        state=base.PaymentState.PAID,
        amount=order.amount,
        currency="CNY",
        app_id=order.channel_app_id,
        merchant_id="1900000999",
    )

    with pytest.raises(errors.Conflict) as refused:
        payment_orders.payment_status_apply(channel=order.channel, status=status, operation="notify")

    assert refused.value.fields == {"merchant_id": "mismatch"}
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.PAYING
    assert PaymentEvent.objects.get(payment_order=order, outcome="refused").message.endswith("merchant_id.")
    assert not Account.objects.filter(owner=alice).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "USD"), ("app_id", ""), ("merchant_id", ""), ("amount", None)],
)
def test_a_paid_status_with_a_missing_or_wrong_term_credits_nothing(sandbox_live, never_pay, alice, field, value):
    order = open_recharge(alice)
    terms = {
        "order_no": order.order_no,
        "state": base.PaymentState.PAID,
        "amount": order.amount,
        "currency": "CNY",
        "app_id": order.channel_app_id,
        "merchant_id": order.channel_merchant_id,
    }

    with pytest.raises(errors.Conflict) as refused:
        payment_orders.payment_status_apply(
            channel=order.channel, status=base.PaymentStatus(**(terms | {field: value})), operation="notify"
        )

    assert field in refused.value.fields
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.PAYING


def test_a_payment_that_arrives_for_a_closed_order_is_refused_with_an_alert(sandbox_live, never_pay, alice):
    order = open_recharge(alice)
    expire(order)
    payment_orders.payment_orders_expire()
    paid = base.PaymentStatus(
        order_no=order.order_no,
        state=base.PaymentState.PAID,
        amount=order.amount,
        currency="CNY",
        app_id=order.channel_app_id,
        merchant_id=order.channel_merchant_id,
    )
    alerts_before = metric("wallet_payment_anomalies_total", kind="payment_paid_after_close")

    with pytest.raises(errors.Conflict):
        payment_orders.payment_status_apply(channel=order.channel, status=paid, operation="notify")

    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.CLOSED
    assert metric("wallet_payment_anomalies_total", kind="payment_paid_after_close") == alerts_before + 1
    assert not Account.objects.filter(owner=alice).exists()


def test_staff_closing_an_order_is_in_its_log_without_showing_the_payer_who(sandbox_live, never_pay, alice, staff_in):
    order = open_recharge(alice)
    operator = staff_in("operations", "ops_jane")

    order = payment_orders.payment_order_close(order=order, actor=operator)

    assert order.status == PaymentOrder.Status.CLOSED
    assert "ops_jane" not in order.status_reason
    closing = StateLog.objects.for_(order).get(transition="close")
    assert closing.by == operator


def test_a_failure_answered_to_a_resent_refund_is_not_believed(sandbox_live, alice, refunder):
    # Given a paid order payment and a refund the channel took (its answer was lost)
    order = order_payment(alice, "30.00", method="wechat_native", client_type="web")
    order = payment_orders.payment_order_sync(order=order)
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="refund_process")
    refund = refunds.refund_request(order=order, actor=refunder, amount=D("30.00"), idempotency_key="r").refund
    refunds.refund_send(refund_id=refund.pk)
    # When the sandbox's refund has meanwhile failed and the refund is sent again
    SandboxRefund.objects.filter(refund_no=refund.refund_no).update(state="failed")

    outcome = refunds.refund_send(refund_id=refund.pk)

    # Then the re-send's answer changes nothing: the amount stays reserved until a query or notify decides
    refund.refresh_from_db()
    assert outcome in ("query_decides", "processing")
    assert refund.status == Refund.Status.PROCESSING
    assert Account.objects.get(code="escrow:refunds").balance == D("30.00")
    assert ledger_audit() == []


def test_an_order_the_channel_did_not_answer_is_opened_again_by_the_same_request(
    sandbox_live, never_pay, alice, settings
):
    # Given a channel that takes longer to answer than we wait
    settings.CHANNEL_READ_TIMEOUT = 0.000001
    terms = {
        "user": alice,
        "business_type": "recharge",
        "method": "wechat_native",
        "amount": D("8.00"),
        "client_type": "web",
        "idempotency_key": "same",
    }
    with pytest.raises(errors.ChannelUnavailable) as unavailable:
        payment_orders.payment_order_create(**terms)
    order = PaymentOrder.objects.get(order_no=unavailable.value.fields["order_no"])
    assert order.status == PaymentOrder.Status.PENDING and not order.pay_params

    # When the client sends the same request again and the channel answers this time
    settings.CHANNEL_READ_TIMEOUT = 10.0
    again = payment_orders.payment_order_create(**terms)

    # Then it is the same order, open at the channel under the same number
    assert (again.order.pk, again.created, again.order.status) == (order.pk, False, PaymentOrder.Status.PAYING)
    assert again.order.pay_params["code_url"]
    assert SandboxPayment.objects.get(protocol="wechat_v3", order_no=order.order_no).requests == 2


def paid_at_sandbox(order_no: str) -> bool:
    """The live server's sandbox finishes the request we stopped waiting for on its own time."""
    for _ in range(100):
        if SandboxPayment.objects.filter(protocol="wechat_v3", order_no=order_no, state="paid").exists():
            return True
        time.sleep(0.05)
    return False


def test_an_unanswered_order_the_payer_paid_meanwhile_is_found_paid_by_the_same_request(sandbox_live, alice, settings):
    # Given a channel that opened the order and was paid at once, but answered after we gave up
    settings.CHANNEL_READ_TIMEOUT = 0.000001
    terms = {
        "user": alice,
        "business_type": "recharge",
        "method": "wechat_native",
        "amount": D("8.00"),
        "client_type": "web",
        "idempotency_key": "same",
    }
    with pytest.raises(errors.ChannelUnavailable) as unavailable:
        payment_orders.payment_order_create(**terms)
    order = PaymentOrder.objects.get(order_no=unavailable.value.fields["order_no"])
    assert paid_at_sandbox(order.order_no)

    # When the client sends the same request again: WeChat answers "already paid" (ORDERPAID)
    settings.CHANNEL_READ_TIMEOUT = 10.0
    again = payment_orders.payment_order_create(**terms)

    # Then the order is asked about and found paid, and the wallet credited once
    assert (again.order.pk, again.created, again.order.status) == (order.pk, False, PaymentOrder.Status.SUCCESS)
    assert Account.objects.get(code=f"user:{alice.pk}:CNY").balance == D("8.00")
    assert ledger_audit() == []


def test_a_processing_refund_the_channel_never_got_is_sent_again_by_the_task_not_by_the_reader(
    sandbox_live, alice, refunder, settings
):
    order = order_payment(alice, "30.00", method="wechat_native", client_type="web")
    order = payment_orders.payment_order_sync(order=order)
    refund = refunds.refund_request(order=order, actor=refunder, amount=D("10.00"), idempotency_key="r").refund
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.PROCESSING)  # its send was lost
    refund.refresh_from_db()

    synced = refunds.refund_sync(refund=refund)

    assert synced.status == Refund.Status.PROCESSING
    assert not SandboxRefund.objects.exists()  # the reader sent nothing
    assert PaymentEvent.objects.filter(refund=refund, state="not_found").exists()
