"""Every payment order and refund status answers a status code and a message the client can
show, in English and in Simplified Chinese (payments.orders.reasons, docs/PAYMENTS.md)."""

from decimal import Decimal

import pytest
from django.utils import translation

from payments.channels.models import Channel
from payments.merchants.tests.factories import awaiting_order, order_payment
from payments.orders import refunds
from payments.orders import services as orders
from payments.orders.models import PaymentOrder
from payments.sandbox import payment_engine
from payments.sandbox.models import SandboxPayment

pytestmark = pytest.mark.django_db(transaction=True)


def read(client, url: str, language: str) -> dict:
    with translation.override(language):
        return client.get(url, HTTP_ACCEPT_LANGUAGE=language).json()


def codes(client, url: str) -> tuple[str, str, str, str]:
    """(status, status_code, English message, Chinese message) of the order or refund at ``url``."""
    english, chinese = read(client, url, "en"), read(client, url, "zh-hans")
    assert english["status_code"] == chinese["status_code"]
    return english["status"], english["status_code"], english["status_message"], chinese["status_message"]


@pytest.fixture
def slow_channels():
    """The sandbox's payers never pay on their own, and its refunds stay processing."""
    for protocol in ("wechat_v3", "wechat_v2", "alipay"):
        payment_engine.payment_rule_add(protocol=protocol, scenario="never_pay")
        payment_engine.payment_rule_add(protocol=protocol, scenario="refund_process", delay_seconds=3600)


def test_each_open_order_status_and_its_end_has_a_code_and_a_message(
    sandbox_live, slow_channels, make_user, funded_account, shop, api_client_for
):
    payer = make_user("payer")
    funded_account(payer, "100.00")
    client = api_client_for(payer)

    # An order the merchant made waits for the payer to choose how to pay
    waiting = awaiting_order(payer, "12.00", merchant=shop)
    assert codes(client, f"/api/v1/payments/{waiting.order_no}/") == (
        "awaiting",
        "awaiting_method",
        "Waiting for the payer to choose how to pay.",
        "等待付款人选择支付方式。",
    )
    # Opened at the channel, it waits for the payment
    recharge = orders.payment_order_create(
        user=payer,
        business_type="recharge",
        idempotency_key="rc-1",
        amount=Decimal("50.00"),
        method="wechat_native",
        client_type="web",
    ).order
    assert codes(client, f"/api/v1/recharges/{recharge.order_no}/") == (
        "paying",
        "awaiting_payment",
        "Waiting for the payment to be completed.",
        "等待完成付款。",
    )
    # Paid from the balance: paid
    paid = order_payment(payer, "10.00", merchant=shop)
    assert codes(client, f"/api/v1/payments/{paid.order_no}/")[:2] == ("success", "paid")
    # Closed by the payer before paying: closed, nothing charged
    orders.payment_order_close(order=waiting, actor=payer, reason="closed by the payer")
    assert codes(client, f"/api/v1/payments/{waiting.order_no}/") == (
        "closed",
        "closed",
        "Closed unpaid: it expired or was closed before it was paid; nothing was charged.",
        "未付款已关闭：订单已过期或在付款前被关闭，未扣任何款项。",
    )


def test_an_order_chosen_but_not_yet_opened_is_opening(shop, make_user, api_client_for):
    payer = make_user("payer")
    order = awaiting_order(payer, "12.00", merchant=shop)
    # As payments.orders.services does before it asks the channel to open it
    order.method, order.client_type = "wechat_native", "web"
    order.channel = (
        Channel.objects.filter(payment_methods__contains=["wechat_native"]).order_by("priority", "id").first()
    )
    order.choose(by=payer, description="wechat_native")
    order.save()

    assert codes(api_client_for(payer), f"/api/v1/payments/{order.order_no}/") == (
        "pending",
        "opening",
        "Being opened at the payment channel.",
        "正在支付渠道创建订单。",
    )


def test_a_refund_is_requested_then_processing(
    sandbox_live, slow_channels, sent_tasks, make_user, shop, refunder, api_client_for
):
    payer = make_user("payer")
    client = api_client_for(payer)
    order = order_payment(payer, "30.00", merchant=shop, method="wechat_native", client_type="web")
    payment_engine.payment_pay(payment_id=SandboxPayment.objects.get(order_no=order.order_no).pk)
    order = orders.payment_order_sync(order=order)
    assert order.status == PaymentOrder.Status.SUCCESS

    refund = refunds.refund_request(order=order, actor=refunder, amount=Decimal("5.00"), idempotency_key="r-1").refund
    assert len(sent_tasks.named(refunds.REFUND_SEND_TASK)) == 1  # queued for a worker; none runs here
    url = f"/api/v1/refunds/{refund.refund_no}/"
    assert codes(client, url) == (
        "pending",
        "requested",
        "Requested; about to be sent to the payment channel.",
        "已申请，即将发送至支付渠道。",
    )

    refunds.refund_send(refund_id=refund.pk)

    assert codes(client, url) == (
        "processing",
        "processing",
        "The payment channel is processing the refund.",
        "支付渠道正在处理退款。",
    )
