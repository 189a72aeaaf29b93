"""Matching a bill against our orders: each outcome, the cross-day pool both ways, supersession,
the fees booked and the clearing check (docs/RECONCILIATION.md)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from payments.channels.bills import BillKind, LineKind, LineStatus
from payments.channels.models import Channel
from payments.withdrawals.models import WithdrawalStatus
from reconciliation import services
from reconciliation.models import Discrepancy, FeeBooking, PoolItem, Run
from reconciliation.tests.support import at, payment_line
from wallet.models import Transfer

pytestmark = pytest.mark.django_db

D = Decimal


def run_of(bill_file) -> Run:
    run = services.run_open(channel=bill_file.channel, bill_date=bill_file.bill_date, kind=bill_file.kind)
    return services.run_bill(run=run, bill=bill_file)


def found(run: Run) -> set[tuple[str, str]]:
    return set(Discrepancy.objects.filter(run=run).values_list("kind", "order_no"))


def test_a_bill_that_agrees_matches_every_line_books_its_fees_and_leaves_the_clearing_balanced(paid_order, bill, today):
    # Given two payments of the day and the channel's bill of them
    first = paid_order("100.00", paid_at=at(today, "10:00"))
    second = paid_order("50.00", paid_at=at(today, "11:00"))

    # When the bill is run
    run = run_of(bill(today, [payment_line(first), payment_line(second)]))

    # Then everything matches, nothing is open, and the fees are one transfer
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert (run.bill_lines, run.local_records, run.matched) == (2, 2, 2)
    assert run.bill_amount == run.local_amount == D("150.00")
    assert not Discrepancy.objects.exists()
    assert run.fees_booked == first.fee + second.fee == D("0.90")
    fee_transfer = Transfer.objects.get(kind="channel_fee")
    assert fee_transfer.reference == f"bill:{run.file_id}"
    assert run.clearing_difference == D("0.00")
    assert run.clearing_balance == run.clearing_expected == D("-150.00") + D("0.90")


def test_each_kind_of_difference_is_found_once_and_nothing_else(paid_order, bill, today):
    # Given orders, and a bill that disagrees with some of them in each way
    agreed = paid_order("10.00", paid_at=at(today, "09:00"))
    ours_only = paid_order("11.00", paid_at=at(today, "09:10"))
    other_amount = paid_order("12.00", paid_at=at(today, "09:20"))
    other_state = paid_order("13.00", paid_at=at(today, "09:30"))
    other_fee = paid_order("14.00", paid_at=at(today, "09:40"))
    closed_but_paid = paid_order("15.00", paid_at=at(today, "09:50"), status="closed")
    lines = [
        payment_line(agreed),
        payment_line(other_amount, amount=D("12.01")),
        payment_line(other_state, status=LineStatus.FAILED),
        payment_line(other_fee, fee=D("0.09")),
        payment_line(closed_but_paid, occurred_at=at(today, "09:50")),
        {"kind": LineKind.PAYMENT, "order_no": "PX00000000000000000000001", "amount": "9.99", "fee": "0.06"},
    ]

    # When the bill is run
    run = run_of(bill(today, lines))

    # Then each difference is one discrepancy of its kind, and the agreed order none
    assert found(run) == {
        ("local_only", ours_only.order_no),
        ("amount_mismatch", other_amount.order_no),
        ("status_mismatch", other_state.order_no),
        ("fee_mismatch", other_fee.order_no),
        ("status_mismatch", closed_but_paid.order_no),
        ("channel_only", "PX00000000000000000000001"),
    }
    assert (run.matched, run.local_only, run.channel_only) == (1, 1, 1)
    assert (run.amount_mismatch, run.status_mismatch, run.fee_mismatch) == (1, 2, 1)
    mismatch = Discrepancy.objects.get(order_no=other_amount.order_no)
    assert (mismatch.local_amount, mismatch.channel_amount) == (D("12.00"), D("12.01"))
    closed = Discrepancy.objects.get(order_no=closed_but_paid.order_no)
    assert (closed.local_status, closed.channel_status) == ("failed", "success")


def test_a_payment_we_booked_late_at_night_waits_for_the_next_days_bill_which_settles_it(paid_order, bill, today):
    # Given a payment booked at 23:50 of day D that the channel books on D+1
    day = today - timedelta(days=3)
    late = paid_order("20.00", paid_at=at(day, "23:50"))

    # When D's bill (without it) is run
    first = run_of(bill(day, []))

    # Then it waits in the pool, no discrepancy
    assert (first.pooled, first.local_only) == (1, 0)
    assert PoolItem.objects.get(order_no=late.order_no).status == PoolItem.Status.WAITING
    assert not Discrepancy.objects.exists()

    # When D+1's bill has it at 00:00:05
    second = run_of(
        bill(day + timedelta(days=1), [payment_line(late, occurred_at=at(day, "23:59:59") + timedelta(seconds=6))])
    )

    # Then the pool item is settled by that run and nothing is open
    item = PoolItem.objects.get(order_no=late.order_no)
    assert (item.status, item.settled_by_id) == (PoolItem.Status.SETTLED, second.pk)
    assert (second.pool_settled, second.matched) == (1, 1)
    assert not Discrepancy.objects.exists()


def test_a_pooled_payment_the_next_bill_does_not_settle_becomes_local_only(paid_order, bill, today):
    day = today - timedelta(days=3)
    late = paid_order("20.00", paid_at=at(day, "23:50"))
    run_of(bill(day, []))

    second = run_of(bill(day + timedelta(days=1), []))

    assert found(second) == {("local_only", late.order_no)}
    assert PoolItem.objects.get(order_no=late.order_no).status == PoolItem.Status.EXPIRED


def test_the_channels_late_line_waits_until_our_order_is_final_the_next_day(paid_order, bill, today):
    # Given the channel booked a payment at 23:58 of D that we still have as paying
    day = today - timedelta(days=3)
    order = paid_order("30.00", paid_at=at(day, "23:58"), status="paying")

    # When D's bill is run, the line waits instead of being a status mismatch
    first = run_of(bill(day, [payment_line(order, occurred_at=at(day, "23:58"), fee=D("0.18"))]))
    assert (first.pooled, first.status_mismatch) == (1, 0)

    # When our order succeeds just after midnight and D+1's bill is run
    type(order).objects.filter(pk=order.pk).update(status="success", paid_at=at(day, "23:59:59") + timedelta(seconds=2))
    second = run_of(bill(day + timedelta(days=1), []))

    # Then the pool item is settled, and our order is not local-only on D+1 (D's bill had it)
    assert PoolItem.objects.get(order_no=order.order_no).status == PoolItem.Status.SETTLED
    assert (second.pool_settled, second.local_only) == (1, 0)
    assert not Discrepancy.objects.exists()


def test_the_channels_late_line_becomes_a_status_mismatch_when_our_order_never_finishes(paid_order, bill, today):
    day = today - timedelta(days=3)
    order = paid_order("30.00", paid_at=at(day, "23:58"), status="paying")
    run_of(bill(day, [payment_line(order, occurred_at=at(day, "23:58"), fee=D("0.18"))]))

    second = run_of(bill(day + timedelta(days=1), []))

    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    assert (discrepancy.kind, discrepancy.run_id) == ("status_mismatch", second.pk)
    assert (discrepancy.local_status, discrepancy.channel_status) == ("processing", "success")


def test_a_corrected_bill_supersedes_the_run_keeps_worked_items_and_books_only_the_fee_difference(
    paid_order, bill, today, staff_in
):
    # Given a bill missing one order and with a wrong fee on another, run, and one item ignored
    a = paid_order("100.00", paid_at=at(today, "10:00"))
    b = paid_order("200.00", paid_at=at(today, "11:00"))
    c = paid_order("300.00", paid_at=at(today, "12:00"))
    first = run_of(bill(today, [payment_line(a), payment_line(b, fee=D("1.30"))]))
    assert found(first) == {("local_only", c.order_no), ("fee_mismatch", b.order_no)}
    worked = Discrepancy.objects.get(order_no=b.order_no)
    worked.ignore(by=staff_in("finance_reviewer"), description="fee agreed by phone")
    worked.save()

    # When the channel's corrected bill (all three, the same wrong fee) is imported and run
    second = run_of(bill(today, [payment_line(a), payment_line(b, fee=D("1.30")), payment_line(c)]))

    # Then the first run is superseded, its open item gone, the ignored one kept and not repeated
    assert Run.objects.get(pk=first.pk).status == Run.Status.SUPERSEDED
    assert not Discrepancy.objects.filter(order_no=c.order_no).exists()
    assert list(Discrepancy.objects.values_list("order_no", "status")) == [(b.order_no, "ignored")]
    # And the fees: the first bill booked 0.60 + 1.30, the second only c's 1.80 more
    assert list(FeeBooking.objects.order_by("pk").values_list("amount", flat=True)) == [D("1.90"), D("1.80")]
    assert Transfer.objects.filter(kind="channel_fee").count() == 2
    assert second.clearing_difference == D("0.00")


def test_payouts_match_withdrawals_and_a_paid_withdrawal_the_bank_failed_is_a_status_mismatch(
    withdrawal_in, bill, today
):
    # Given two withdrawals paid out by the bank channel today
    paid = withdrawal_in(WithdrawalStatus.SUCCESS, amount="100.00")
    failed_at_bank = withdrawal_in(WithdrawalStatus.SUCCESS, amount="200.00")
    lines = [
        {"kind": LineKind.PAYOUT, "order_no": paid.order_no, "amount": paid.actual_amount, "fee": paid.fee},
        {
            "kind": LineKind.PAYOUT,
            "order_no": failed_at_bank.order_no,
            "amount": failed_at_bank.actual_amount,
            "fee": D("0.00"),
            "status": LineStatus.FAILED,
        },
    ]

    # When the bank's payout bill is run
    run = run_of(bill(today, lines, kind="payout", channel="bank"))

    # Then one matches, the other is a status mismatch
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.matched == 1
    assert found(run) == {("status_mismatch", failed_at_bank.order_no)}


def test_a_payout_that_failed_here_and_at_the_bank_matches_though_its_order_priced_a_fee(withdrawal_in, bill, today):
    # Given a withdrawal that failed (its order still says what the fee would have been)
    failed = withdrawal_in(WithdrawalStatus.FAILED, amount="100.00")
    assert failed.fee > D("0.00")
    # And the bank's bill lists it failed, charged nothing
    lines = [
        {
            "kind": LineKind.PAYOUT,
            "order_no": failed.order_no,
            "amount": failed.actual_amount,
            "fee": D("0.00"),
            "status": LineStatus.FAILED,
        }
    ]

    # When the bill is run
    run = run_of(bill(today, lines, kind="payout", channel="bank"))

    # Then it matches: no fee mismatch for a fee never charged
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert (run.matched, found(run)) == (1, set())


def test_two_runs_of_one_channel_and_day_never_overlap(today):
    channel = Channel.objects.get(code="wechat_pay")
    services.run_open(channel=channel, bill_date=today, kind=BillKind.TRADE)

    with pytest.raises(Exception) as refused:
        services.run_open(channel=channel, bill_date=today, kind=BillKind.TRADE)

    assert getattr(refused.value, "code", "") == "conflict"
    assert Run.objects.count() == 1


def test_running_the_same_bill_again_books_its_fees_once_and_opens_no_copy(paid_order, bill, today):
    # Given a bill with one difference, run once
    agreed = paid_order("100.00", paid_at=at(today, "10:00"))
    ours_only = paid_order("50.00", paid_at=at(today, "11:00"))
    bill_file = bill(today, [payment_line(agreed)])
    first = run_of(bill_file)

    # When the same bill is run again (a re-run from the admin, a repeated task)
    second = run_of(bill_file)

    # Then it finds the same, books nothing more and opens no second discrepancy
    assert (second.status, second.matched, second.local_only) == (Run.Status.SUCCEEDED, 1, 1)
    assert second.fees_booked == first.fees_booked == D("0.60")
    assert Transfer.objects.filter(kind="channel_fee").count() == 1
    assert list(Discrepancy.objects.values_list("kind", "order_no")) == [("local_only", ours_only.order_no)]
    assert second.clearing_difference == first.clearing_difference
