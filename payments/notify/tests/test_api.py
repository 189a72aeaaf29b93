"""The notify endpoint's hot path: what a genuine payment notify costs in queries, first and again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.channels import registry
from payments.channels.models import Channel
from payments.orders.models import PaymentOrder
from payments.sandbox import payment_engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxPayment
from payments.sandbox.protocols import protocol_module
from wallet import services as ledger
from wallet.models import Account

pytestmark = pytest.mark.django_db

NOTIFY_URL = "/api/v1/notify/wechat_pay/"
# Pinned: the success path is one short transaction; a change here is a change of the hot path.
# Channel, sandbox keys (none with real credentials), the order locked with its user, the
# transition log and the order's update, the two accounts, the posting, the event; savepoints.
FIRST_NOTIFY_QUERIES = 13
# Channel, keys, the order locked, the duplicate event; savepoints.
DUPLICATE_NOTIFY_QUERIES = 6


@pytest.fixture
def paying(alice) -> PaymentOrder:
    """A WeChat v3 native recharge open at the sandbox and paid there; the accounts it credits
    exist and the channel's adapter is built, as on a running system."""
    secrets = keys_for("wechat_v3")
    channel = Channel.objects.get(code="wechat_pay")
    registry.adapter_for(channel)
    ContentType.objects.get_for_model(PaymentOrder)  # cached per process after the first notify
    ledger.account_for_system(code="clearing:wechat_pay")
    ledger.account_for_user(user=alice)
    order = PaymentOrder.objects.create(
        order_no="RC20261128000000000000042",
        user=alice,
        business_type="recharge",
        method="wechat_native",
        channel=channel,
        client_type="web",
        subject="钱包充值",
        amount=Decimal("10.00"),
        idempotency_key="k",
        request_fingerprint="f",
        channel_app_id=secrets["appid"],
        channel_merchant_id=secrets["mchid"],
        expires_at=timezone.now() + timedelta(minutes=30),
        status="paying",
    )
    receipt = payment_engine.payment_receive(
        protocol="wechat_v3", order_no=order.order_no, amount=order.amount, subject="钱包充值", method="wechat_native"
    )
    assert receipt.payment.state == "paid"
    return order


def test_a_first_notify_and_a_duplicate_cost_a_fixed_number_of_queries(paying, client, alice):
    payment = SandboxPayment.objects.get(protocol="wechat_v3", order_no=paying.order_no)
    headers, body = protocol_module("wechat_v3").payment_notify_build(
        payment, keys_for("wechat_v3"), amount=payment.amount, forged=False
    )
    http_headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    post = lambda: client.post(NOTIFY_URL, body, content_type="application/json", **http_headers)  # noqa: E731

    with CaptureQueriesContext(connection) as first:
        assert post().status_code == 200
    with CaptureQueriesContext(connection) as again:
        assert post().status_code == 200

    assert (len(first), len(again)) == (FIRST_NOTIFY_QUERIES, DUPLICATE_NOTIFY_QUERIES)
    assert Account.objects.get(owner=alice).balance == Decimal("10.00")
