"""The sandbox's cashier page speaks to a payer: it names a payment, never a payout API."""

from decimal import Decimal

import pytest

from payments.sandbox import payment_engine
from payments.sandbox.models import PaymentScenario, Protocol

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("protocol", "name"),
    [
        (Protocol.WECHAT_V3, "WeChat Pay (API v3)"),
        (Protocol.WECHAT_V2, "WeChat Pay (API v2)"),
        (Protocol.ALIPAY, "Alipay"),
    ],
)
def test_the_cashier_page_calls_a_waiting_order_a_payment_of_its_channel(client, protocol, name):
    # Given an order the payer has not paid yet
    payment_engine.payment_rule_add(protocol=protocol, scenario=PaymentScenario.NEVER_PAY)
    payment = payment_engine.payment_receive(
        protocol=protocol, order_no=f"PO-{protocol}", amount=Decimal("12.34"), subject="钱包充值", method="NATIVE"
    ).payment

    # When the payer opens its cashier page
    page = client.get(f"/sandbox/cashier/{protocol}/{payment.order_no}/").content.decode()

    # Then the page names a payment of that channel, and no payout API
    assert f"<h1>Sandbox cashier: {name} payment</h1>" in page
    assert "transfer" not in page.lower() and "enterprise payment" not in page.lower()
    assert 'id="pay"' in page
