"""The near-real-time check: every order that becomes final queues a check of its ledger effects
and of its channel's word on it (docs/RECONCILIATION.md, "Near-real-time check")."""

from decimal import Decimal

import pytest

from payments.channels import base
from payments.merchants.tests.factories import merchant_of, order_payment
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder
from payments.sandbox.models import SandboxPayment, SandboxRefund
from payments.tests.worker import sandbox_live  # noqa: F401 - the sandbox on the live server
from payments.withdrawals import payouts
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from reconciliation import realtime
from reconciliation.models import Discrepancy
from reconciliation.tests.internal_support import (
    CARD_NUMBER,
    channel_order,
    channel_says,
    forced,
    merchant_service,
    open_discrepancies,
    paid_by_channel,
    paid_from_balance,
    recharged,
    refund_requested,
    refunded,
    withdrawn,
)

D = Decimal
S = WithdrawalStatus
CHECK = realtime.ORDER_CHECK_TASK


@pytest.fixture
def supervisor(staff_in):
    return staff_in("finance_supervisor")


def checks_queued(sent_tasks) -> list[tuple[str, int]]:
    return [tuple(task["args"]) for task in sent_tasks.named(CHECK)]


@pytest.mark.django_db
def test_every_order_that_becomes_final_queues_one_check_of_it_after_commit(
    make_user, supervisor, risk_rule, sent_tasks, django_capture_on_commit_callbacks
):
    risk_rule("hourly_count", enabled=False)
    payer, saver, shop = make_user(), make_user(), merchant_service()

    # When orders of every kind reach each final state, each in its own committed transaction
    with django_capture_on_commit_callbacks(execute=True):
        recharge = recharged(payer, "300.00")
        closed = channel_says(channel_order(payer, "5.00"), base.PaymentState.CLOSED)
        order = paid_by_channel(payer, "80.00")
        refund = refunded(order, "30.00", by=shop)
        refused = refunded(order, "10.00", by=shop, succeed=False)
        tea = paid_from_balance(payer, "20.00")
        tea_refund = refunded(tea, "20.00", by=shop)
        recharged(saver, "5000.00")
        paid, failed, rejected, cancelled, returned = (
            withdrawn(saver, "200.00", status, staff=supervisor)
            for status in (S.SUCCESS, S.FAILED, S.REJECTED, S.CANCELLED, S.REFUNDED)
        )
        pending = refund_requested(order, "1.00", by=shop)

    # Then each queued one check, by kind and id; a returned payout twice (paid, then returned)
    assert checks_queued(sent_tasks) == [
        ("payment", recharge.pk),
        ("payment", closed.pk),
        ("payment", order.pk),
        ("refund", refund.pk),
        ("refund", refused.pk),
        ("payment", tea.pk),
        ("refund", tea_refund.pk),
        ("payment", PaymentOrder.objects.filter(user=saver).get().pk),
        ("payout", paid.pk),
        ("payout", failed.pk),
        ("payout", rejected.pk),
        ("payout", cancelled.pk),
        ("payout", returned.pk),
        ("payout", returned.pk),
    ]
    assert ("refund", pending.pk) not in checks_queued(sent_tasks)


@pytest.mark.django_db
def test_nothing_is_queued_before_the_transaction_commits(make_user, sent_tasks):
    recharged(make_user(), "10.00")

    assert checks_queued(sent_tasks) == []


@pytest.mark.django_db
def test_a_consistent_order_without_a_channel_opens_nothing(make_user):
    # Given a balance payment refunded in part
    payer = make_user()
    recharged(payer, "50.00")
    tea = paid_from_balance(payer, "20.00")
    refund = refunded(tea, "5.00", by=merchant_service())

    # When each is checked, then nothing differs and no channel is asked
    assert realtime.order_check(kind="payment", pk=tea.pk) == []
    assert realtime.order_check(kind="refund", pk=refund.pk) == []
    assert not Discrepancy.objects.exists()


@pytest.mark.django_db
def test_a_payout_never_sent_is_checked_in_the_ledger_only(make_user, supervisor):
    user = make_user()
    recharged(user, "900.00")
    rejected = withdrawn(user, "200.00", S.REJECTED, staff=supervisor)

    assert realtime.order_check(kind="payout", pk=rejected.pk) == []
    assert not Discrepancy.objects.exists()


@pytest.mark.django_db
def test_a_channel_that_does_not_answer_opens_no_status_discrepancy_but_the_ledger_is_still_checked(
    make_user, settings, caplog
):
    # Given a recharge recorded as paid without its money, and its channel down
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"
    order = forced(channel_order(make_user(), "9.00"), status="success")

    # When it is checked
    found = realtime.order_check(kind="payment", pk=order.pk)

    # Then the ledger difference is opened, the channel's silence only logged
    assert found == ["ledger_mismatch"]
    assert open_discrepancies() == {("ledger_mismatch", "payment", order.order_no)}
    assert f"near-real-time check of payment {order.order_no}: wechat_pay did not answer" in caplog.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sandbox_live")
def test_a_paid_recharge_agrees_with_the_sandbox_until_the_sandbox_says_it_was_not_paid(make_user, sent_tasks):
    # Given a recharge the sandbox's payer paid at once, found paid by our query
    order = payment_orders.payment_order_create(
        user=make_user(),
        business_type="recharge",
        method="wechat_native",
        amount=D("66.00"),
        client_type="web",
        idempotency_key="rt-1",
    ).order
    order = payment_orders.payment_order_sync(order=order)
    assert order.status == PaymentOrder.Status.SUCCESS

    # Then its commit queued its check, which finds everything in agreement
    assert checks_queued(sent_tasks) == [("payment", order.pk)]
    assert realtime.order_check(kind="payment", pk=order.pk) == []

    # When the sandbox's own record says it was never paid
    SandboxPayment.objects.filter(order_no=order.order_no).update(state=SandboxPayment.State.NOT_PAID)

    # Then the check opens a status mismatch at once, with both states
    assert realtime.order_check(kind="payment", pk=order.pk) == ["status_mismatch"]
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.object_kind, discrepancy.order_no) == (
        "status_mismatch",
        "payment",
        order.order_no,
    )
    assert (discrepancy.local_status, discrepancy.channel_status) == ("success", "processing")
    assert (discrepancy.local_amount, discrepancy.channel_amount, discrepancy.channel.code) == (
        D("66.00"),
        D("66.00"),
        "wechat_pay",
    )

    # And checking again opens no copy
    assert realtime.order_check(kind="payment", pk=order.pk) == ["status_mismatch"]
    assert Discrepancy.objects.count() == 1

    # When the sandbox says it was paid, but another amount, then that is the difference
    SandboxPayment.objects.filter(order_no=order.order_no).update(state=SandboxPayment.State.PAID, amount=D("65.00"))
    assert realtime.order_check(kind="payment", pk=order.pk) == ["amount_mismatch"]
    assert Discrepancy.objects.get(kind="amount_mismatch").channel_amount == D("65.00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sandbox_live")
def test_a_refund_the_sandbox_refunded_agrees_and_one_it_says_failed_is_a_status_mismatch(make_user, sent_tasks):
    # Given an order payment paid at the sandbox and refunded there
    shop = merchant_service()
    order = order_payment(make_user(), "40.00", method="wechat_native", client_type="web", merchant=merchant_of("shop"))
    payment_orders.payment_order_sync(order=order)
    refund = refund_requested(PaymentOrder.objects.get(pk=order.pk), "15.00", by=shop)
    refunds.refund_send(refund_id=refund.pk)

    # Then the refund's check finds it in agreement
    assert ("refund", refund.pk) in checks_queued(sent_tasks)
    assert realtime.order_check(kind="refund", pk=refund.pk) == []

    # When the sandbox's record says the refund failed, then its check says so
    SandboxRefund.objects.filter(refund_no=refund.refund_no).update(state=SandboxRefund.State.FAILED)
    assert realtime.order_check(kind="refund", pk=refund.pk) == ["status_mismatch"]
    assert Discrepancy.objects.get().channel_status == "failed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sandbox_live")
def test_a_payout_the_sandbox_paid_agrees_and_one_it_never_received_is_a_status_mismatch(
    make_user, supervisor, sent_tasks
):
    # Given a payout sent to the sandbox and paid, and another booked as paid without being sent
    user = make_user()
    recharged(user, "900.00")
    card, _ = withdrawals.payout_account_bind(
        user=user, kind="bank_card", card_number=CARD_NUMBER, holder_name="张三", bank_code="ICBC"
    )
    sent = withdrawals.withdrawal_submit(user=user, payout_account=card, amount=D("200.00"), idempotency_key="p1")
    withdrawal = sent.withdrawal
    if withdrawal.status == S.PENDING:
        withdrawal = withdrawals.withdrawal_approve(withdrawal=withdrawal, actor=supervisor)
    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "success"
    unsent = withdrawn(user, "100.00", S.SUCCESS, staff=supervisor)

    # When both are checked
    assert realtime.order_check(kind="payout", pk=withdrawal.pk) == []
    assert realtime.order_check(kind="payout", pk=unsent.pk) == ["status_mismatch"]

    # Then the one the channel has no record of is the discrepancy
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.order_no, discrepancy.local_status, discrepancy.channel_status) == (
        unsent.order_no,
        "success",
        "",
    )
    assert discrepancy.local_amount == Withdrawal.objects.get(pk=unsent.pk).actual_amount
