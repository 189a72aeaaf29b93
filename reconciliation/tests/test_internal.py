"""Internal reconciliation: every order against its ledger effects and every wallet against the
orders that explain it (docs/RECONCILIATION.md, "Internal reconciliation"). The book is built by
the real services; the faults are then made behind their back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from payments.channels import base
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder
from payments.withdrawals.models import WithdrawalStatus
from reconciliation import desk, internal
from reconciliation.models import Discrepancy
from reconciliation.tests.internal_support import (
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
    wallet_code,
    withdrawn,
)
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import PeerTransfer
from wallet.transfers.services import transfer_send

pytestmark = pytest.mark.django_db

D = Decimal
S = WithdrawalStatus


@pytest.fixture
def supervisor(staff_in):
    return staff_in("finance_supervisor")


@pytest.fixture
def clean_book(make_user, supervisor, risk_rule):
    """Every flow that moves money, each through its services, ending in each final state."""
    risk_rule("hourly_count", enabled=False)
    payer, saver, friend = make_user("payer"), make_user("saver"), make_user("friend")
    shop = merchant_service()
    recharged(payer, "500.00")
    recharged(saver, "9000.00")
    order = paid_by_channel(payer, "100.00")
    refunded(order, "30.00", by=shop)
    refunded(order, "20.00", by=shop, succeed=False)
    tea = paid_from_balance(payer, "40.00")
    refunded(tea, "15.00", by=shop)
    channel_says(channel_order(payer, "12.00"), base.PaymentState.CLOSED)
    payment_orders.payment_order_reverse(order=recharged(friend, "8.00"), actor=supervisor, reason="never collected")
    transfer_send(sender=payer, recipient=friend, amount=D("25.00"), idempotency_key="gift")
    transfer_send(sender=friend, recipient=payer, amount=D("5.00"), idempotency_key="thanks")
    for status in (S.SUCCESS, S.FAILED, S.REJECTED, S.CANCELLED, S.REFUNDED):
        withdrawn(saver, "200.00", status, staff=supervisor)
    return {"payer": payer, "saver": saver, "friend": friend, "shop": shop}


def test_a_book_built_by_every_flow_opens_no_discrepancy(clean_book):
    # Given the book of every flow (a sound ledger too)
    assert ledger_audit() == []

    # When it is reconciled
    differences = internal.internal_reconcile()

    # Then there is nothing to report or open
    assert differences == []
    assert not Discrepancy.objects.exists()


def test_a_transfer_to_a_wallet_with_no_order_behind_it_is_a_balance_mismatch(clean_book):
    # Given 50.00 credited to the payer's wallet as a recharge, and 3.00 of a kind no order has
    payer = clean_book["payer"]
    wallet = ledger.account_for_user(user=payer)
    clearing = ledger.account_for_system(code="clearing:wechat_pay")
    ledger.transfer_post(
        idempotency_key="stray",
        kind="recharge",
        legs=[ledger.Leg(clearing, D("-50.00")), ledger.Leg(wallet, D("50.00"))],
    )
    ledger.transfer_post(
        idempotency_key="bonus", kind="bonus", legs=[ledger.Leg(clearing, D("-3.00")), ledger.Leg(wallet, D("3.00"))]
    )
    expected = ledger.account_for_user(user=payer).balance - D("53.00")

    # When it is reconciled
    differences = internal.internal_reconcile()

    # Then the payer's wallet alone differs: by what the orders explain, and in which categories
    assert [(d.outcome, d.object_kind, d.order_no) for d in differences] == [
        ("balance_mismatch", "account", wallet.code)
    ]
    difference = differences[0]
    assert (difference.expected, difference.found) == (expected, expected + D("53.00"))
    assert "bonus: expected 0, found 3.00" in difference.detail
    assert "recharge: expected 500.00, found 550.00" in difference.detail
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.order_no, discrepancy.bill_date) == (
        "balance_mismatch",
        wallet.code,
        timezone.localdate(),
    )
    assert (discrepancy.local_amount, discrepancy.channel_amount) == (expected, expected + D("53.00"))


def test_a_paid_order_without_its_ledger_transfer_is_a_ledger_and_a_balance_mismatch(make_user):
    # Given a recharge recorded as paid behind the services' back: no money moved for it
    user = make_user()
    recharged(user, "20.00")
    order = forced(channel_order(user, "35.00"), status="success", paid_at=timezone.now())

    # When it is reconciled
    internal.internal_reconcile()

    # Then the order and the user's wallet are each one discrepancy
    assert open_discrepancies() == {
        ("ledger_mismatch", "payment", order.order_no),
        ("balance_mismatch", "account", wallet_code(user)),
    }
    mismatch = Discrepancy.objects.get(kind="ledger_mismatch")
    assert (mismatch.local_amount, mismatch.channel_amount, mismatch.local_status) == (D("35.00"), D("0"), "success")
    assert mismatch.channel.code == "wechat_pay"
    assert "payment leg on clearing:wechat_pay: expected -35.00, found none" in mismatch.detail
    assert f"payment leg on {wallet_code(user)}: expected 35.00, found none" in mismatch.detail
    balance = Discrepancy.objects.get(kind="balance_mismatch")
    assert (balance.local_amount, balance.channel_amount) == (D("55.00"), D("20.00"))


def test_a_closed_order_with_a_payment_transfer_is_a_ledger_mismatch(make_user):
    # Given an order paid and credited, then recorded as closed
    user = make_user()
    order = forced(recharged(user, "18.00"), status="closed")

    # When it is reconciled
    differences = internal.internal_reconcile()

    # Then the order's transfer is one it should not have
    payment = next(d for d in differences if d.object_kind == "payment")
    assert (payment.order_no, payment.expected, payment.found) == (order.order_no, D("0"), D("18.00"))
    assert f"payment leg on {wallet_code(user)}: expected none, found 18.00" in payment.detail


def test_a_withdrawal_recorded_as_failed_after_it_was_paid_is_a_ledger_mismatch(make_user, supervisor):
    # Given a paid withdrawal whose state says failed
    user = make_user()
    recharged(user, "900.00")
    withdrawal = forced(withdrawn(user, "200.00", S.SUCCESS, staff=supervisor), status="failed")

    # When it is reconciled
    internal.internal_reconcile()

    # Then its hold and capture contradict the state, and the wallet lost money no order explains
    assert open_discrepancies() == {
        ("ledger_mismatch", "payout", withdrawal.order_no),
        ("balance_mismatch", "account", wallet_code(user)),
    }
    mismatch = Discrepancy.objects.get(kind="ledger_mismatch")
    assert "hold captured, expected released" in mismatch.detail
    assert (mismatch.local_amount, mismatch.channel_amount) == (D("0"), D("200.00"))


def test_a_returned_withdrawal_without_its_reversal_is_a_ledger_mismatch(make_user, supervisor):
    # Given a paid withdrawal recorded as returned, its money never posted back
    user = make_user()
    recharged(user, "900.00")
    withdrawal = forced(withdrawn(user, "200.00", S.SUCCESS, staff=supervisor), status="refunded")

    # When it is reconciled
    differences = internal.internal_reconcile()

    # Then the missing reversal legs are named
    payout = next(d for d in differences if d.object_kind == "payout")
    assert payout.order_no == withdrawal.order_no
    assert f"reversal leg on {wallet_code(user)}: expected 200.00, found none" in payout.detail


def test_a_refund_recorded_as_refunded_but_never_paid_out_of_escrow_is_a_ledger_mismatch(make_user):
    # Given a channel refund still waiting for the channel (reserved in escrow), recorded as success
    payer, shop = make_user(), merchant_service()
    order = paid_by_channel(payer, "60.00")
    refund = forced(refund_requested(order, "10.00", by=shop), status="success")

    # When it is reconciled
    internal.internal_reconcile()

    # Then the escrow never paid it to the channel's clearing account
    assert open_discrepancies() == {("ledger_mismatch", "refund", refund.refund_no)}
    mismatch = Discrepancy.objects.get()
    assert "refund leg on escrow:refunds: expected -10.00, found none" in mismatch.detail
    assert "refund leg on clearing:wechat_pay: expected 10.00, found none" in mismatch.detail
    assert (mismatch.local_amount, mismatch.channel_amount) == (D("10.00"), D("0"))


def test_a_failed_refund_whose_reserve_never_went_back_to_the_merchant_is_a_ledger_mismatch(make_user):
    # Given a channel refund reserved in escrow, recorded as failed behind the services' back
    payer, shop = make_user(), merchant_service()
    order = paid_by_channel(payer, "60.00")
    refund = forced(refund_requested(order, "10.00", by=shop), status="failed")

    # When it is reconciled
    differences = internal.internal_differences()

    # Then the missing release legs are named
    assert [(d.object_kind, d.order_no) for d in differences] == [("refund", refund.refund_no)]
    assert "release leg on merchant:shop: expected 10.00, found none" in differences[0].detail
    assert "release leg on escrow:refunds: expected -10.00, found none" in differences[0].detail


def test_a_p2p_transfer_debiting_another_wallet_than_its_sender_is_a_balance_mismatch_of_both(make_user):
    # Given alice's posted transfer to carol whose ledger rows debit bob's wallet
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    recharged(bob, "30.00")
    posted = ledger.transfer_post(
        idempotency_key=f"p2p:{alice.pk}:k1",
        kind="p2p",
        legs=[
            ledger.Leg(ledger.account_for_user(user=bob), D("-10.00")),
            ledger.Leg(ledger.account_for_user(user=carol), D("10.00")),
        ],
    )
    PeerTransfer.objects.create(
        sender=alice,
        recipient=carol,
        amount=D("10.00"),
        status=PeerTransfer.Status.POSTED,
        idempotency_key="k1",
        request_fingerprint="-",
        guard_reference="-",
        ledger_transfer_id=posted.pk,
        created_at=timezone.now(),
    )

    # When it is reconciled
    differences = {d.order_no: d for d in internal.internal_reconcile()}

    # Then bob sent what no transfer of his explains, and alice did not send what hers says
    assert set(differences) == {wallet_code(alice), wallet_code(bob)}
    assert "p2p_out: expected 0, found -10.00" in differences[wallet_code(bob)].detail
    assert "p2p_out: expected -10.00, found 0" in differences[wallet_code(alice)].detail


def test_running_again_opens_nothing_new_and_an_ignored_difference_stays_ignored_until_it_changes(
    make_user, supervisor
):
    # Given a stray credit found and ignored by the desk
    user = make_user()
    recharged(user, "10.00")
    wallet = ledger.account_for_user(user=user)
    clearing = ledger.account_for_system(code="clearing:wechat_pay")
    ledger.transfer_post(
        idempotency_key="s1", kind="recharge", legs=[ledger.Leg(clearing, D("-1.00")), ledger.Leg(wallet, D("1.00"))]
    )
    first = internal.internal_reconcile()
    assert [d.opened for d in first] == [True]
    assert [d.opened for d in internal.internal_reconcile()] == [False]
    desk.discrepancy_ignore(discrepancy=Discrepancy.objects.get(), actor=supervisor, reason="opening balance")

    # When it is reconciled again, then the same difference is reported but not reopened
    assert [d.opened for d in internal.internal_reconcile()] == [False]
    assert open_discrepancies() == set()

    # When the difference grows, then it is opened again
    ledger.transfer_post(
        idempotency_key="s2", kind="recharge", legs=[ledger.Leg(clearing, D("-1.00")), ledger.Leg(wallet, D("1.00"))]
    )
    assert [d.opened for d in internal.internal_reconcile()] == [True]
    assert open_discrepancies() == {("balance_mismatch", "account", wallet.code)}


def test_a_day_run_checks_the_orders_finished_that_day_and_dates_its_discrepancies_with_it(make_user):
    # Given two recharges recorded as paid without money, one finished yesterday, one today
    user = make_user()
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    old = forced(channel_order(user, "5.00"), status="success", finished_at=timezone.now() - timedelta(days=1))
    new = forced(channel_order(user, "6.00"), status="success", finished_at=timezone.now())

    # When yesterday is reconciled
    differences = internal.internal_reconcile(day=yesterday)

    # Then only yesterday's order is checked; the wallet, checked whole, differs by both
    assert {(d.object_kind, d.order_no) for d in differences} == {
        ("payment", old.order_no),
        ("account", wallet_code(user)),
    }
    assert set(Discrepancy.objects.values_list("bill_date", flat=True)) == {yesterday}
    assert new.order_no not in {d.order_no for d in differences}


def test_the_command_prints_each_check_and_exits_1_on_differences_and_a_dry_run_opens_nothing(make_user, capsys):
    # Given a clean book, then the command says so
    user = make_user()
    recharged(user, "10.00")
    call_command("reconcile_internal")
    out = capsys.readouterr().out
    assert "payment_ledger_effects" in out and "wallet_balance_explained" in out
    assert "internal reconciliation clean" in out

    # Given an order paid without money
    order = forced(channel_order(user, "7.00"), status="success")

    # When the command runs dry, then it fails naming the order and opens nothing
    with pytest.raises(CommandError, match="2 difference"):
        call_command("reconcile_internal", "--dry-run")
    assert order.order_no in capsys.readouterr().out
    assert not Discrepancy.objects.exists()

    # When it runs for real, then the discrepancies are opened
    with pytest.raises(CommandError):
        call_command("reconcile_internal")
    assert Discrepancy.objects.count() == 2


def test_the_nightly_run_logs_each_difference_for_alerting(make_user, caplog):
    user = make_user()
    order = forced(channel_order(user, "7.00"), status="success")

    assert internal.internal_nightly() == 2
    assert f"payment {order.order_no}: expected 7.00, found 0" in caplog.text
    assert PaymentOrder.objects.get(pk=order.pk).status == "success"  # nothing is changed but the desk's queue
