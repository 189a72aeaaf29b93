"""The discrepancy desk: four eyes on every step that moves money, each step's ledger effect,
and steps that move no money (docs/RECONCILIATION.md, "The discrepancy desk")."""

from collections import Counter
from decimal import Decimal

import pytest
from django_fsm_log.models import StateLog

from payments.channels.bills import LineKind, LineStatus
from payments.orders.models import PaymentOrder
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from reconciliation import desk, services
from reconciliation.models import Action, Discrepancy
from reconciliation.tests.support import at, payment_line
from wallet import errors
from wallet import services as ledger
from wallet.models import Transfer
from wallet.selectors import account_balance
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def run_bill(bill):
    def run(day, lines, **options):
        bill_file = bill(day, lines, **options)
        opened = services.run_open(channel=bill_file.channel, bill_date=day, kind=bill_file.kind)
        return services.run_bill(run=opened, bill=bill_file)

    return run


@pytest.fixture
def desk_staff(staff_in):
    return {
        "reviewer": staff_in("finance_reviewer"),
        "supervisor": staff_in("finance_supervisor"),
        "other_supervisor": staff_in("finance_supervisor"),
        "auditor": staff_in("auditor"),
    }


def clearing(code="wechat_pay") -> Decimal:
    return account_balance(account=ledger.account_for_system(code=f"clearing:{code}"))


def balance(user) -> Decimal:
    return account_balance(account=ledger.account_for_user(user=user))


def test_a_payment_the_channel_collected_after_we_closed_it_is_credited_once_after_two_people_agree(
    paid_order, run_bill, today, desk_staff
):
    # Given a closed order the channel's bill says was paid
    order = paid_order("15.00", paid_at=at(today, "09:50"), status="closed")
    run_bill(today, [payment_line(order, occurred_at=at(today, "09:50"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)

    # When a reviewer proposes to apply the channel's truth
    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.APPLY_CHANNEL, reason="paid late"
    )

    # Then nothing moved yet
    assert PaymentOrder.objects.get(pk=order.pk).status == "closed"
    assert balance(order.user) == D("0.00")

    # When a supervisor approves it, twice (a double click)
    desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])
    with pytest.raises(errors.Conflict):
        desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["other_supervisor"])

    # Then the order is paid through its own transition, credited once, and the desk step logged
    order.refresh_from_db()
    assert order.status == "success"
    assert Transfer.objects.filter(idempotency_key=f"payment:{order.order_no}").count() == 1
    assert balance(order.user) == D("15.00")
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.approved_by) == ("resolved", desk_staff["supervisor"])
    logged = StateLog.objects.filter(object_id=str(order.pk), transition="recover").get()
    assert logged.by == desk_staff["supervisor"]


def test_the_proposer_cannot_approve_and_a_reviewer_cannot_approve_at_all(paid_order, run_bill, today, desk_staff):
    order = paid_order("15.00", paid_at=at(today, "09:50"), status="closed")
    run_bill(today, [payment_line(order, occurred_at=at(today, "09:50"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["supervisor"], action=Action.APPLY_CHANNEL, reason="paid late"
    )

    with pytest.raises(errors.PermissionDenied):
        desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])
    with pytest.raises(errors.PermissionDenied):
        desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["reviewer"])
    with pytest.raises(errors.PermissionDenied):
        desk.discrepancy_propose(
            discrepancy=discrepancy, actor=desk_staff["auditor"], action=Action.CORRECTION, reason="x", amount=D("1")
        )

    assert PaymentOrder.objects.get(pk=order.pk).status == "closed"
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == "investigating"


def test_a_payment_we_booked_that_the_channel_never_collected_is_reversed(paid_order, run_bill, today, desk_staff):
    order = paid_order("11.00", paid_at=at(today, "09:10"))
    run_bill(today, [])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no, kind="local_only")
    before = clearing()

    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.APPLY_CHANNEL, reason="not at WeChat"
    )
    desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])

    order.refresh_from_db()
    assert order.status == "reversed"
    assert balance(order.user) == D("0.00")
    assert clearing() == before + D("11.00")
    assert Transfer.objects.filter(idempotency_key=f"payment:{order.order_no}:reversal").count() == 1


def test_a_reversal_the_payer_cannot_cover_moves_nothing_and_leaves_the_proposal(
    paid_order, run_bill, today, desk_staff, bob
):
    order = paid_order("11.00", paid_at=at(today, "09:10"))
    ledger.transfer_post(
        idempotency_key="spent",
        kind="p2p",
        legs=[
            ledger.Leg(ledger.account_for_user(user=order.user), D("-11.00")),
            ledger.Leg(ledger.account_for_user(user=bob), D("11.00")),
        ],
    )
    run_bill(today, [])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.APPLY_CHANNEL, reason="not at WeChat"
    )

    with pytest.raises(errors.InsufficientFunds):
        desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])

    assert PaymentOrder.objects.get(pk=order.pk).status == "success"
    assert Discrepancy.objects.get(pk=discrepancy.pk).proposed_action == Action.APPLY_CHANNEL


def test_a_paid_withdrawal_the_bank_failed_goes_back_to_the_wallet(withdrawal_in, run_bill, today, desk_staff):
    withdrawal = withdrawal_in(WithdrawalStatus.SUCCESS, amount="200.00")
    line = {
        "kind": LineKind.PAYOUT,
        "order_no": withdrawal.order_no,
        "amount": withdrawal.actual_amount,
        "fee": D("0.00"),
        "status": LineStatus.FAILED,
    }
    run_bill(today, [line], kind="payout", channel="bank")
    discrepancy = Discrepancy.objects.get(order_no=withdrawal.order_no)
    before = balance(withdrawal.user)

    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.APPLY_CHANNEL, reason="bank: FAILED"
    )
    desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])

    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.REFUNDED
    assert balance(withdrawal.user) == before + D("200.00")


def test_a_correction_posts_once_between_the_clearing_and_the_adjustment_account(
    paid_order, run_bill, today, desk_staff
):
    order = paid_order("12.00", paid_at=at(today, "09:20"))
    run_bill(today, [payment_line(order, amount=D("12.01"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no, kind="amount_mismatch")
    before = clearing()

    with pytest.raises(errors.ValidationFailed):
        desk.discrepancy_propose(
            discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.CORRECTION, reason="x", amount=D("0")
        )
    desk.discrepancy_propose(
        discrepancy=discrepancy,
        actor=desk_staff["reviewer"],
        action=Action.CORRECTION,
        reason="WeChat collected a cent more",
        amount=D("-0.01"),
    )
    desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])

    assert clearing() == before - D("0.01")
    adjustment = ledger.account_for_system(code="adjustment:reconciliation")
    assert account_balance(account=adjustment) == D("0.01")
    assert Transfer.objects.filter(idempotency_key=f"recon:correction:{discrepancy.pk}").count() == 1


def test_ignoring_needs_a_reason_and_moves_no_money(paid_order, run_bill, today, desk_staff):
    order = paid_order("12.00", paid_at=at(today, "09:20"))
    run_bill(today, [payment_line(order, fee=D("0.08"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    transfers = Transfer.objects.count()

    with pytest.raises(errors.ValidationFailed):
        desk.discrepancy_ignore(discrepancy=discrepancy, actor=desk_staff["reviewer"], reason="  ")
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == "open"

    desk.discrepancy_ignore(discrepancy=discrepancy, actor=desk_staff["reviewer"], reason="fee rounding, agreed")

    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.resolution) == ("ignored", "fee rounding, agreed")
    assert Transfer.objects.count() == transfers
    assert StateLog.objects.filter(transition="ignore", by=desk_staff["reviewer"]).count() == 1


def test_applying_the_channels_truth_where_there_is_none_is_refused_at_the_proposal(
    paid_order, run_bill, today, desk_staff
):
    order = paid_order("12.00", paid_at=at(today, "09:20"))
    run_bill(today, [payment_line(order, amount=D("12.01"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)

    with pytest.raises(errors.Conflict):
        desk.discrepancy_propose(
            discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.APPLY_CHANNEL, reason="?"
        )

    assert Discrepancy.objects.get(pk=discrepancy.pk).proposed_action == ""


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_approving_at_once_move_the_money_once(paid_order, run_bill, today, desk_staff, staff_in):
    # Given a correction proposed by a reviewer
    order = paid_order("12.00", paid_at=at(today, "09:20"))
    run_bill(today, [payment_line(order, amount=D("12.01"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.CORRECTION, reason="x", amount=D("0.01")
    )
    supervisors = [desk_staff["supervisor"], desk_staff["other_supervisor"], staff_in("finance_supervisor")]
    before = clearing()

    # When three supervisors approve it at the same moment
    outcomes = run_in_threads(
        3, lambda i: desk.discrepancy_approve(discrepancy=discrepancy, actor=supervisors[i]).status
    )

    # Then one carried it out, the others were told someone else is, and the money moved once
    assert outcomes == Counter({"resolved": 1, "conflict": 2})
    assert clearing() == before + D("0.01")
    assert Transfer.objects.filter(idempotency_key=f"recon:correction:{discrepancy.pk}").count() == 1


def test_a_proposal_being_carried_out_can_be_neither_withdrawn_nor_changed(paid_order, run_bill, today, desk_staff):
    order = paid_order("12.00", paid_at=at(today, "09:20"))
    run_bill(today, [payment_line(order, amount=D("12.01"))])
    discrepancy = Discrepancy.objects.get(order_no=order.order_no)
    desk.discrepancy_propose(
        discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.CORRECTION, reason="x", amount=D("0.01")
    )
    # A supervisor's approval claimed, its money step not yet done (an interrupted approval)
    Discrepancy.objects.filter(pk=discrepancy.pk).update(approved_by=desk_staff["supervisor"])

    with pytest.raises(errors.Conflict):
        desk.discrepancy_proposal_withdraw(discrepancy=discrepancy, actor=desk_staff["reviewer"])
    with pytest.raises(errors.Conflict):
        desk.discrepancy_propose(
            discrepancy=discrepancy, actor=desk_staff["reviewer"], action=Action.CORRECTION, reason="y", amount=D("9")
        )
    with pytest.raises(errors.Conflict):
        desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["other_supervisor"])

    # And the approver repeating the approval carries out the proposal as it was approved
    desk.discrepancy_approve(discrepancy=discrepancy, actor=desk_staff["supervisor"])
    assert Transfer.objects.get(idempotency_key=f"recon:correction:{discrepancy.pk}").memo == "x"
