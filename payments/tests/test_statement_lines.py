"""The statement names withdrawals, recharges, order payments and refunds as the user knows
them: the channel's or merchant's name and what happened (wallet.statements, docs/WALLET.md)."""

from decimal import Decimal

import pytest

from payments.channels import base
from payments.merchants.tests.factories import order_payment
from payments.orders import refunds
from payments.orders import services as orders
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import WithdrawalStatus
from wallet.transfers import services as transfers

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/wallet/entries/"


def lines(client) -> list[dict]:
    return client.get(ENTRIES).json()["results"]


def test_a_paid_withdrawal_names_the_card_it_went_to_and_the_channel(withdrawal_in, api_client_for):
    withdrawal = withdrawal_in(WithdrawalStatus.SUCCESS)

    newest = lines(api_client_for(withdrawal.user))[0]

    account = withdrawal.payout_account
    assert "****" in account.display
    assert (newest["kind"], newest["amount"]) == ("withdrawal", "-6000.00")
    assert newest["description"] == f"Withdrawal to bank card {account.display}"
    assert newest["counterparty"] == withdrawal.channel.name


def test_a_returned_withdrawal_names_its_order_number(withdrawal_in, api_client_for):
    withdrawal = withdrawal_in(WithdrawalStatus.REFUNDED)

    newest = lines(api_client_for(withdrawal.user))[0]

    assert (newest["kind"], newest["amount"]) == ("withdrawal_reversal", "6000.00")
    assert newest["description"] == f"Withdrawal {withdrawal.order_no} returned"
    assert newest["counterparty"] == withdrawal.channel.name


def test_a_balance_payment_and_its_refund_name_the_merchant(make_user, funded_account, shop, refunder, api_client_for):
    payer = make_user("payer")
    funded_account(payer, "100.00")
    order = order_payment(payer, "35.00", merchant=shop, subject="Green tea")
    refunds.refund_request(order=order, actor=refunder, amount=Decimal("5.00"), idempotency_key="r-1")

    refund_line, payment_line, _funding = lines(api_client_for(payer))

    assert (payment_line["kind"], payment_line["amount"]) == ("order_payment", "-35.00")
    assert payment_line["description"] == f"Payment to {shop.name}: Green tea"
    assert payment_line["counterparty"] == shop.name
    assert (refund_line["kind"], refund_line["amount"]) == ("refund", "5.00")
    assert refund_line["description"] == f"Refund of order {order.order_no}"
    assert refund_line["counterparty"] == shop.name


@pytest.mark.django_db(transaction=True)
def test_a_recharge_names_the_channel_it_came_through(sandbox_live, make_user, api_client_for):
    # Given a recharge opened at the sandbox channel, which then says it was paid
    user = make_user("recharger")
    order = orders.payment_order_create(
        user=user,
        business_type="recharge",
        idempotency_key="rc-1",
        amount=Decimal("50.00"),
        method="wechat_native",
        client_type="web",
    ).order
    assert order.channel is not None
    paid = base.PaymentStatus(
        order_no=order.order_no,
        state=base.PaymentState.PAID,
        amount=order.amount,
        currency="CNY",
        app_id=order.channel_app_id,
        merchant_id=order.channel_merchant_id,
        transaction_id="TX-1",
    )
    orders.payment_status_apply(channel=order.channel, status=paid, operation="notify", kind="notify")

    # Then the statement names the channel
    [line] = lines(api_client_for(user))

    assert (line["kind"], line["amount"]) == ("recharge", "50.00")
    assert line["description"] == f"Recharge via {order.channel.name}"
    assert line["counterparty"] == order.channel.name


def paid_withdrawal(submit, user, amount: str):
    withdrawal = submit(user, amount)
    assert withdrawal.status == WithdrawalStatus.APPROVED  # small: risk control approves it
    withdrawal = withdrawals.withdrawal_dispatch(withdrawal=withdrawal)
    return withdrawals.withdrawal_succeed(withdrawal=withdrawal, channel_reference="CH-1")


@pytest.mark.parametrize("each", [1, 3])  # at most 3 withdrawals an hour
def test_a_page_of_every_kind_costs_one_query_per_kind_whatever_its_rows(
    each, submit, make_user, funded_account, shop, refunder, api_client_for, django_assert_num_queries
):
    # Given a user with `each` withdrawals, balance payments, refunds and transfers on their statement
    user = make_user("busy")
    funded_account(user, "1000.00")
    friend = make_user("friend")
    for i in range(each):
        paid_withdrawal(submit, user, "100.00")
        order = order_payment(user, "10.00", merchant=shop, subject=f"Tea {i}")
        refunds.refund_request(order=order, actor=refunder, amount=Decimal("1.00"), idempotency_key=f"r-{i}")
        transfers.transfer_send(
            sender=user, recipient=friend, amount=Decimal("1.00"), memo="", idempotency_key=f"t-{i}"
        )
    client = api_client_for(user)

    # token auth, the account, the page; then one query each for withdrawals, payments, refunds
    with django_assert_num_queries(6):
        page = lines(client)

    kinds = [line["kind"] for line in page]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "withdrawal": each,
        "order_payment": each,
        "refund": each,
        "p2p": each,
        "recharge": 1,
    }
    assert all(line["description"] for line in page)
