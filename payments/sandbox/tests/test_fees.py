"""The sandbox records the fee its channel charges when the money moves: a payment's when the payer
pays, a refund's share of it when the refund succeeds, a bank payout's when it is paid
(docs/RECONCILIATION.md, "The sandbox's bills")."""

from decimal import Decimal

import pytest

from payments.channels.models import Channel
from payments.sandbox import engine, payment_engine
from payments.sandbox.models import PaymentScenario, SandboxPayout, SandboxRefund, Scenario
from payments.sandbox.tests.bill_helpers import ALIPAY, BANK, V2, V3

pytestmark = pytest.mark.django_db

D = Decimal


def pay(protocol: str, order_no: str, amount: str):
    return payment_engine.payment_receive(
        protocol=protocol, order_no=order_no, amount=D(amount), subject="Recharge", method="NATIVE"
    ).payment


def refund(payment, refund_no: str, amount: str) -> SandboxRefund:
    taken, _ = payment_engine.refund_receive(
        protocol=payment.protocol, order_no=payment.order_no, refund_no=refund_no, amount=D(amount)
    )
    return taken


def pay_out(protocol: str, order_no: str, amount: str, scenario: str = Scenario.SUCCEED) -> SandboxPayout:
    engine.rule_add(protocol=protocol, scenario=scenario, order_no=order_no)
    payout = engine.payout_receive(protocol=protocol, order_no=order_no, amount=D(amount), payee_masked="**** 1").payout
    assert payout is not None
    return payout


@pytest.mark.parametrize("protocol", [V3, V2, ALIPAY])
def test_a_payment_paid_at_once_carries_the_collecting_channels_fee(protocol):
    # Given the collecting channels of the migrations (0.6 %, no minimum)
    # When a payer pays 100.00 at once
    payment = pay(protocol, "P1", "100.00")

    # Then the channel charged 0.60
    assert payment.fee == D("0.60")


def test_a_payment_is_charged_when_the_payer_pays_not_before():
    payment_engine.payment_rule_add(protocol=V3, scenario=PaymentScenario.NEVER_PAY)
    payment = pay(V3, "P2", "50.00")
    assert payment.fee == D("0.00")

    paid = payment_engine.payment_pay(payment_id=payment.pk)

    assert paid.fee == D("0.30")


def test_the_first_collecting_channel_in_priority_sets_the_fee():
    Channel.objects.create(
        code="wechat_cheap",
        name="WeChat (negotiated rate)",
        adapter="wechat_v3",
        payment_methods=["wechat_native"],
        fee_rate=D("0.002"),
        fee_min=D("0.00"),
        fee_max=D("100.00"),
        priority=1,
    )
    Channel.objects.create(code="wechat_payout_first", name="Payouts", adapter="wechat_v3", priority=0)

    assert pay(V3, "P3", "100.00").fee == D("0.20")


def test_a_refund_gives_back_its_share_of_the_fee_rounded_half_up():
    # Given a channel charging 1 %: a payment of 50.00 is charged 0.50
    Channel.objects.filter(code="wechat_pay").update(fee_rate=D("0.01"))
    payment = pay(V3, "P4", "50.00")

    # When 2.50 of it is refunded (a share of 0.025)
    taken = refund(payment, "R4", "2.50")

    # Then the refund carries -0.03
    assert (payment.fee, taken.fee) == (D("0.50"), D("-0.03"))


def test_a_refund_is_credited_its_fee_when_it_succeeds_and_a_failed_one_never():
    payment = pay(V3, "P5", "100.00")
    payment_engine.payment_rule_add(protocol=V3, scenario=PaymentScenario.REFUND_PROCESS, remaining=2)
    later, failing = refund(payment, "R5", "10.00"), refund(payment, "R6", "20.00")
    assert (later.fee, failing.fee) == (D("0.00"), D("0.00"))

    succeeded = payment_engine.refund_settle(refund_id=later.pk, state=SandboxRefund.State.SUCCESS)
    failed = payment_engine.refund_settle(refund_id=failing.pk, state=SandboxRefund.State.FAILED)

    assert (succeeded.fee, failed.fee) == (D("-0.06"), D("0.00"))


def test_a_bank_payout_is_charged_when_it_is_paid_and_keeps_the_fee_when_returned():
    # Given the bank payout channel of the migrations (0.1 %, at least 0.10)
    paid = pay_out(BANK, "W1", "12.30")
    failed = pay_out(BANK, "W2", "12.30", Scenario.FAIL)
    processing = pay_out(BANK, "W3", "2000.00", Scenario.PROCESS)
    assert (paid.fee, failed.fee, processing.fee) == (D("0.10"), D("0.00"), D("0.00"))

    # When the processing one is paid and the paid one comes back
    settled = engine.payout_settle(payout_id=processing.pk, state=SandboxPayout.State.SUCCESS)
    returned = engine.payout_settle(payout_id=paid.pk, state=SandboxPayout.State.RETURNED)

    # Then the one paid now is charged, and the return keeps the fee of the payment
    assert (settled.fee, returned.fee) == (D("2.00"), D("0.10"))


def test_a_late_success_notify_task_never_takes_back_a_bank_return():
    # Given a bank payout that was paid and then returned by the payee's bank
    payout = pay_out(BANK, "W1", "12.30", Scenario.RETURN)
    engine.payout_settle(payout_id=payout.pk, state=SandboxPayout.State.RETURNED)

    # When the success notify task of the same payout runs late (its queue was slow)
    late = engine.payout_settle(payout_id=payout.pk, state=SandboxPayout.State.SUCCESS)

    # Then the channel's books still say returned
    assert late.state == SandboxPayout.State.RETURNED
    assert SandboxPayout.objects.get(pk=payout.pk).state == SandboxPayout.State.RETURNED


@pytest.mark.parametrize("protocol", [V3, V2])
def test_a_wechat_transfer_is_free(protocol):
    assert pay_out(protocol, "W4", "12.30").fee == D("0.00")
