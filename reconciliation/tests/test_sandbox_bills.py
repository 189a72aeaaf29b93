"""Reconciliation end to end over real HTTP: orders paid, refunded and paid out through the
sandbox on the live server; the sandbox told to get one of each difference wrong in its bill; the
run downloads the bill the channel's way and finds exactly those differences and nothing else."""

from decimal import Decimal

import pytest
from django.utils import timezone

from payments.channels.bills import BillKind
from payments.channels.models import Channel
from payments.merchants.tests.factories import order_payment
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder
from payments.sandbox.bill_rules import bill_rule_add
from payments.withdrawals import payouts
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import WithdrawalStatus
from reconciliation import services
from reconciliation.models import BillFile, Discrepancy, Run
from wallet.audit import ledger_audit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_cross_day_window(settings):
    """Orders made in the last minutes of the local day would wait in the cross-day pool
    (tested on its own in test_matching.py) instead of being found: these tests run today's
    bill whatever the hour."""
    settings.RECONCILIATION_CROSS_DAY_MINUTES = 0


D = Decimal


def paid_order_payment(user, amount: str) -> PaymentOrder:
    order = order_payment(user, amount, method="wechat_native", client_type="web", subject="Tea")
    order = payment_orders.payment_order_sync(order=order)
    assert order.status == PaymentOrder.Status.SUCCESS
    return order


def run_today(code: str, kind: BillKind) -> Run:
    channel = Channel.objects.get(code=code)
    today = timezone.localdate()
    return services.run_download(run=services.run_open(channel=channel, bill_date=today, kind=kind))


def found(run: Run) -> set[tuple[str, str]]:
    return set(Discrepancy.objects.filter(run=run).values_list("kind", "order_no"))


def test_a_trade_bill_with_one_of_each_difference_is_found_exactly(sandbox_live, alice, refunder):
    # Given eight order payments by WeChat Pay v3 and a refund of one of them, all through the sandbox
    orders = [paid_order_payment(alice, f"{amount}.00") for amount in (11, 12, 13, 14, 15, 16, 17, 18)]
    refund = refunds.refund_request(order=orders[7], actor=refunder, amount=D("8.00"), idempotency_key="r").refund
    refunds.refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == "success"
    # And the sandbox told to get today's trade bill wrong in every way
    today = timezone.localdate()
    missing, wrong_amount, wrong_status, wrong_fee, next_day = (order.order_no for order in orders[:5])
    for difference, order_no in [
        ("missing", missing),
        ("wrong_amount", wrong_amount),
        ("wrong_status", wrong_status),
        ("wrong_fee", wrong_fee),
        ("next_day", next_day),
        ("extra", "XEXTRA0000000000001"),
    ]:
        bill_rule_add(
            protocol="wechat_v3", bill_kind="trade", bill_date=today, difference=difference, order_no=order_no
        )

    # When today's WeChat Pay trade bill is downloaded and run
    run = run_today("wechat_pay", BillKind.TRADE)

    # Then it finds exactly the injected differences; the rest, the refund included, match
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert found(run) == {
        ("local_only", missing),
        ("local_only", next_day),
        ("amount_mismatch", wrong_amount),
        ("status_mismatch", wrong_status),
        ("fee_mismatch", wrong_fee),
        ("channel_only", "XEXTRA0000000000001"),
    }
    assert run.matched == 4  # three payments and the refund
    bill = BillFile.objects.get(runs=run)
    assert bill.source == "download"
    # And the fees booked are the bill's (the sandbox charged 0.6 %, the refund gave its share back)
    assert run.fees_booked == bill.fee_total
    assert ledger_audit() == []


def test_a_payout_bill_from_the_bank_gateway_finds_the_payout_it_says_failed(
    sandbox_live, make_user, funded_account, submit, staff_in
):
    # Given three withdrawals paid out through the bank gateway's sandbox
    supervisor = staff_in("finance_supervisor")
    paid = []
    for amount in ("100.00", "200.00", "300.00"):
        user = make_user()
        funded_account(user, "1000.00")
        withdrawal = submit(user, amount)
        if withdrawal.status == WithdrawalStatus.PENDING:
            withdrawal = withdrawals.withdrawal_approve(withdrawal=withdrawal, actor=supervisor)
        payouts.payout_send(withdrawal_id=withdrawal.pk)
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.SUCCESS
        paid.append(withdrawal)
    # And the gateway's bill says the second one failed
    bill_rule_add(
        protocol="bank",
        bill_kind="payout",
        bill_date=timezone.localdate(),
        difference="wrong_status",
        order_no=paid[1].order_no,
    )

    # When today's payout bill is downloaded and run
    run = run_today("bank", BillKind.PAYOUT)

    # Then that one is a status mismatch and the others match, their fees booked
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert found(run) == {("status_mismatch", paid[1].order_no)}
    assert run.matched == 2
    assert run.fees_booked == paid[0].fee + paid[2].fee
    assert ledger_audit() == []


def test_the_alipay_account_bill_matches_paid_transfers_and_finds_each_injected_difference(
    sandbox_live, make_user, funded_account, submit
):
    # Given five withdrawals paid out by Alipay transfer through the sandbox
    paid = []
    for amount in ("10.00", "11.00", "12.00", "13.00", "14.00"):
        user = make_user()
        funded_account(user, "100.00")
        account, _ = withdrawals.payout_account_bind(user=user, kind="alipay", login_id="13800138000", real_name="张三")
        withdrawal = submit(user, amount, payout_account=account)
        assert (withdrawal.status, withdrawal.channel.code) == (WithdrawalStatus.APPROVED, "alipay_transfer")
        payouts.payout_send(withdrawal_id=withdrawal.pk)
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.SUCCESS
        paid.append(withdrawal)
    # And Alipay's account bill of today told to leave one out, get one's amount wrong, move one to
    # tomorrow and list a transfer we never made
    today = timezone.localdate()
    missing, wrong_amount, next_day = (withdrawal.order_no for withdrawal in paid[:3])
    for difference, order_no in [
        ("missing", missing),
        ("wrong_amount", wrong_amount),
        ("next_day", next_day),
        ("extra", "XW00000000000000001"),
    ]:
        bill_rule_add(protocol="alipay", bill_kind="payout", bill_date=today, difference=difference, order_no=order_no)

    # When today's payout bill of the Alipay transfer channel is downloaded and run
    run = run_today("alipay_transfer", BillKind.PAYOUT)

    # Then it finds exactly the injected differences and matches the other two transfers
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert found(run) == {
        ("local_only", missing),
        ("local_only", next_day),
        ("amount_mismatch", wrong_amount),
        ("channel_only", "XW00000000000000001"),
    }
    assert run.matched == 2
    bill = BillFile.objects.get(runs=run)
    assert (bill.source, bill.kind) == ("download", "payout")
    assert bill.filename.endswith("_signcustomer.csv.zip")
    # And the account bill carries no fee: nothing is booked
    assert run.fees_booked == Decimal("0.00")
    assert ledger_audit() == []


def test_a_bill_not_published_yet_keeps_the_run_waiting(sandbox_live):
    bill_rule_add(protocol="wechat_v3", bill_kind="trade", bill_date=timezone.localdate(), difference="not_ready")

    with pytest.raises(Exception) as not_ready:
        run_today("wechat_pay", BillKind.TRADE)

    assert type(not_ready.value).__name__ == "BillNotReady"
    assert Run.objects.get().status == Run.Status.WAITING
