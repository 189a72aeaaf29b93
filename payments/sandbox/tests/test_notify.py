"""The sandbox's notifies count as delivered only when the merchant acknowledges them in the
protocol's own terms; anything else is sent again, like the channels do."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from payments.channels import alipay, bank, wechat_v2, wechat_v3
from payments.sandbox import tasks
from payments.sandbox.keys import keys_for
from payments.sandbox.models import PaymentScenario, Protocol, SandboxPayment
from payments.sandbox.protocols import protocol_module

pytestmark = pytest.mark.django_db

ADAPTER_PACKAGES = {
    Protocol.WECHAT_V3: wechat_v3,
    Protocol.WECHAT_V2: wechat_v2,
    Protocol.BANK: bank,
    Protocol.ALIPAY: alipay,
}
V2_SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
V2_FAIL = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[FAIL]]></return_msg></xml>"


def adapter_of(protocol: Protocol):
    return ADAPTER_PACKAGES[protocol].adapter_for_sandbox(
        keys_for(protocol), base_url="http://channel.invalid", read_timeout=1
    )


@pytest.mark.parametrize("protocol", list(Protocol))
@pytest.mark.parametrize("accepted", [True, False])
def test_each_protocol_takes_our_adapters_own_reply_as_it_is_meant(protocol, accepted):
    reply = adapter_of(protocol).notify_reply(accepted=accepted)

    assert protocol_module(protocol).notify_acknowledged(reply.status, reply.body) is accepted


@pytest.mark.parametrize(
    ("protocol", "status", "body", "acknowledged"),
    [
        (Protocol.WECHAT_V3, 204, b"", True),
        (Protocol.WECHAT_V3, 200, b'{"code":"FAIL"}', True),  # v3 reads the status only
        (Protocol.WECHAT_V3, 500, b"", False),
        (Protocol.WECHAT_V2, 200, V2_SUCCESS, True),
        (Protocol.WECHAT_V2, 200, V2_FAIL, False),
        (Protocol.WECHAT_V2, 200, b"", False),
        (Protocol.WECHAT_V2, 204, V2_SUCCESS, False),
        (Protocol.BANK, 200, b'{"code":"0000"}', True),
        (Protocol.BANK, 200, b'{"code":"9999"}', False),
        (Protocol.BANK, 200, b"ok", False),
        (Protocol.ALIPAY, 200, b"success", True),
        (Protocol.ALIPAY, 200, b"success\n", False),
        (Protocol.ALIPAY, 200, b"fail", False),
        (Protocol.ALIPAY, 204, b"", False),
    ],
)
def test_only_the_protocols_acknowledgement_counts(protocol, status, body, acknowledged):
    assert protocol_module(protocol).notify_acknowledged(status, body) is acknowledged


@pytest.fixture
def merchant(monkeypatch):
    """Our notify URL as the sandbox's task reaches it: it answers ``reply`` and counts the POSTs."""
    merchant = SimpleNamespace(reply=None, posts=0)

    def post(url: str, **kwargs) -> SimpleNamespace:
        merchant.posts += 1
        return SimpleNamespace(status_code=merchant.reply.status, content=merchant.reply.body)

    monkeypatch.setattr(tasks.requests, "post", post)
    return merchant


def paid_payment(protocol: Protocol) -> SandboxPayment:
    return SandboxPayment.objects.create(
        protocol=protocol,
        order_no=f"PO{protocol.upper()}1",
        transaction_id=f"TSBX{protocol.upper()}1",
        amount=Decimal("12.34"),
        subject="钱包充值",
        method="NATIVE" if protocol == Protocol.WECHAT_V2 else "alipay_page",
        payer_masked="o***sandbox",
        state=SandboxPayment.State.PAID,
        scenario=PaymentScenario.PAY_NOW,
        notify_url="https://wallet.example/notify",
        paid_at=timezone.now(),
    )


@pytest.mark.parametrize("protocol", [Protocol.WECHAT_V2, Protocol.ALIPAY])
def test_a_pay_notify_the_merchant_refuses_is_sent_again_and_an_acknowledged_one_is_not(merchant, protocol):
    payment = paid_payment(protocol)
    adapter = adapter_of(protocol)
    merchant.reply = adapter.notify_reply(accepted=False)

    with pytest.raises(Retry):
        tasks.sandbox_payment_notify(payment.pk, "genuine")

    merchant.reply = adapter.notify_reply(accepted=True)
    tasks.sandbox_payment_notify(payment.pk, "genuine")
    assert merchant.posts == 2


def test_a_v2_refusal_answered_with_http_200_is_still_sent_again(merchant):
    payment = paid_payment(Protocol.WECHAT_V2)
    merchant.reply = SimpleNamespace(status=200, body=V2_FAIL)

    with pytest.raises(Retry):
        tasks.sandbox_payment_notify(payment.pk, "genuine")


def test_an_alipay_answer_other_than_success_is_sent_again(merchant):
    payment = paid_payment(Protocol.ALIPAY)
    merchant.reply = SimpleNamespace(status=200, body=b"fail")

    with pytest.raises(Retry):
        tasks.sandbox_payment_notify(payment.pk, "genuine")
