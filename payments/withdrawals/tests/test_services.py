"""The withdrawal life cycle through payments.services, on the real database and ledger."""

from decimal import Decimal

import pytest
from django_fsm import can_proceed
from django_fsm_log.models import StateLog

from payments.channels.models import Channel
from payments.withdrawals import services
from payments.withdrawals.models import Withdrawal, WithdrawalApproval, WithdrawalStatus
from risk import services as risk_services
from risk.models import RiskEvaluation
from wallet import errors, selectors
from wallet.audit import ledger_audit
from wallet.models import Account, Entry, Hold

pytestmark = pytest.mark.django_db

D = Decimal
S = WithdrawalStatus

# Every transition of docs/ARCHITECTURE.md §5, as (source, service call name, target).
ALLOWED = {
    (S.PENDING, "approve"): S.APPROVED,
    (S.PENDING, "reject"): S.REJECTED,
    (S.PENDING, "cancel"): S.CANCELLED,
    (S.APPROVED, "cancel"): S.CANCELLED,
    (S.APPROVED, "dispatch"): S.PROCESSING,
    (S.PROCESSING, "succeed"): S.SUCCESS,
    (S.PROCESSING, "fail"): S.FAILED,
    (S.SUCCESS, "reverse"): S.REFUNDED,
}
# A repeated system transition (a redelivered task) is a no-op rather than an error.
IDEMPOTENT = {(S.PROCESSING, "dispatch"), (S.SUCCESS, "succeed"), (S.FAILED, "fail"), (S.REFUNDED, "reverse")}
IDEMPOTENT |= {(S.REFUNDED, "succeed")}  # a late copy of the success of a payout since returned
IDEMPOTENT |= {(S.CANCELLED, "cancel")}
ACTIONS = ["approve", "reject", "cancel", "dispatch", "succeed", "fail", "reverse"]


def latest(withdrawal: Withdrawal) -> Withdrawal:
    return Withdrawal.objects.get(pk=withdrawal.pk)


def act(action: str, withdrawal: Withdrawal, *, staff, owner) -> Withdrawal:
    calls = {
        "approve": lambda: services.withdrawal_approve(withdrawal=withdrawal, actor=staff),
        "reject": lambda: services.withdrawal_reject(withdrawal=withdrawal, actor=staff, reason="not this time"),
        "cancel": lambda: services.withdrawal_cancel(withdrawal=withdrawal, actor=owner),
        "dispatch": lambda: services.withdrawal_dispatch(withdrawal=withdrawal),
        "succeed": lambda: services.withdrawal_succeed(withdrawal=withdrawal, channel_reference="CH-9"),
        "fail": lambda: services.withdrawal_fail(withdrawal=withdrawal, code="NAME_MISMATCH", message="name differs"),
        "reverse": lambda: services.withdrawal_reverse(withdrawal=withdrawal, reason="bank bounce"),
    }
    return calls[action]()


def wallet_of(user) -> Account:
    return Account.objects.get(owner=user, kind=Account.Kind.USER)


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("action", ACTIONS)
def test_every_transition_of_the_design_works_and_every_other_is_refused(withdrawal_in, staff_in, source, action):
    # Given a withdrawal in ``source`` (9000.00 would need four eyes; 6000.00 needs one approval)
    withdrawal = withdrawal_in(source)
    before = latest(withdrawal)
    logged = StateLog.objects.count()
    supervisor = staff_in("finance_supervisor")

    if (source, action) in ALLOWED:
        # When the allowed transition runs, then the order is in its target state and logged
        after = act(action, withdrawal, staff=supervisor, owner=withdrawal.user)
        assert latest(after).status == ALLOWED[(source, action)]
        assert StateLog.objects.count() == logged + 1
    elif (source, action) in IDEMPOTENT:
        # When a system transition is repeated, then nothing changes
        assert act(action, withdrawal, staff=supervisor, owner=withdrawal.user).status == source
        assert StateLog.objects.count() == logged
    else:
        # When any other transition is tried, then it is refused and nothing changes
        with pytest.raises(errors.Conflict):
            act(action, withdrawal, staff=supervisor, owner=withdrawal.user)
        assert latest(withdrawal).status == source
        assert latest(withdrawal).updated_at == before.updated_at
        assert StateLog.objects.count() == logged
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("1.00", "0.10"),  # 0.001 -> the minimum
        ("99.99", "0.10"),
        ("100.00", "0.10"),  # 0.1 % exactly meets the minimum
        ("100.49", "0.10"),
        ("150.00", "0.15"),
        ("1234.56", "1.23"),  # 1.23456 rounds half up to 1.23
        ("1235.00", "1.24"),  # 1.235 rounds half up
        ("4999.99", "5.00"),
        ("5000.00", "5.00"),  # 0.1 % exactly meets the maximum
        ("5000.01", "5.00"),
        ("10000.00", "5.00"),  # 10.00 -> the maximum
    ],
)
def test_the_fee_is_a_tenth_of_a_percent_between_the_minimum_and_the_maximum(amount, fee):
    channel = Channel.objects.get(code="bank")
    assert channel.fee_for(D(amount)) == D(fee)


def test_a_channels_own_fee_table_applies(make_user, funded_account, submit):
    # Given operations changed the bank channel to 0.5 %, min 2.00, max 20.00
    Channel.objects.filter(code="bank").update(fee_rate=D("0.005"), fee_min=D("2.00"), fee_max=D("20.00"))
    user = make_user()
    funded_account(user, "10000.00")

    # Then fees follow the channel's row
    assert submit(user, "100.00").fee == D("2.00")
    assert submit(user, "1000.00").fee == D("5.00")
    assert submit(user, "4000.00").fee == D("20.00")


def test_an_amount_not_above_its_fee_is_refused_and_writes_nothing(make_user, funded_account, submit, risk_rule):
    risk_rule("min_amount", enabled=False)
    user = make_user()
    funded_account(user, "10.00")

    with pytest.raises(errors.ValidationFailed) as refused:
        submit(user, "0.10")

    assert refused.value.fields == {"amount": "below_fee"}
    assert not Withdrawal.objects.exists()
    assert wallet_of(user).held == D("0.00")


def test_a_small_withdrawal_is_approved_at_once_and_holds_the_amount(make_user, funded_account, submit):
    # Given a user with 500.00
    user = make_user()
    funded_account(user, "500.00")

    # When they withdraw 120.00
    withdrawal = submit(user, "120.00")

    # Then it is approved with fee 0.12 and 119.88 to pay out, and 120.00 is held
    assert (withdrawal.status, withdrawal.fee, withdrawal.actual_amount) == (S.APPROVED, D("0.12"), D("119.88"))
    assert withdrawal.order_no.startswith("WD") and len(withdrawal.order_no) == 25
    account = wallet_of(user)
    assert (account.balance, account.held) == (D("500.00"), D("120.00"))
    assert Hold.objects.get(pk=withdrawal.hold_id).reference == withdrawal.order_no
    assert withdrawal.risk_evaluation.outcome == RiskEvaluation.Outcome.ALLOW
    log = StateLog.objects.for_(withdrawal).get()
    assert (log.transition, log.source_state, log.state, log.by) == ("submit", None, S.APPROVED, user)


def test_a_large_withdrawal_waits_for_review_with_the_reasons_stored(make_user, funded_account, submit):
    user = make_user()
    funded_account(user, "9000.00")

    review = submit(user, "5000.01")
    small = submit(user, "3999.99")

    assert (review.status, review.approvals_required) == (S.PENDING, 1)
    assert review.risk_evaluation.reasons == ["Withdrawals above 5,000.00 are reviewed by finance staff."]
    assert small.status == S.APPROVED
    assert wallet_of(user).held == D("9000.00")


def test_the_same_idempotency_key_returns_the_first_order_and_holds_once(make_user, funded_account, card_account):
    user = make_user()
    funded_account(user, "500.00")
    account = card_account(user)

    first = services.withdrawal_submit(user=user, payout_account=account, amount=D("50.00"), idempotency_key="k")
    again = services.withdrawal_submit(user=user, payout_account=account, amount=D("50.00"), idempotency_key="k")

    assert (first.created, again.created) == (True, False)
    assert again.withdrawal.pk == first.withdrawal.pk
    assert Withdrawal.objects.count() == 1
    assert wallet_of(user).held == D("50.00")
    assert RiskEvaluation.objects.count() == 1


def test_the_same_key_with_another_amount_is_a_conflict_and_changes_nothing(make_user, funded_account, card_account):
    user = make_user()
    funded_account(user, "500.00")
    account = card_account(user)
    services.withdrawal_submit(user=user, payout_account=account, amount=D("50.00"), idempotency_key="k")

    with pytest.raises(errors.IdempotencyConflict):
        services.withdrawal_submit(user=user, payout_account=account, amount=D("60.00"), idempotency_key="k")

    assert Withdrawal.objects.count() == 1
    assert wallet_of(user).held == D("50.00")


def test_two_users_may_use_the_same_key(make_user, funded_account, submit):
    alice, bob = make_user(), make_user()
    funded_account(alice, "100.00")
    funded_account(bob, "100.00")

    submit(alice, "10.00", key="shared")
    submit(bob, "10.00", key="shared")

    assert Withdrawal.objects.count() == 2


def test_two_honest_withdrawals_of_the_same_amount_are_two_orders(make_user, funded_account, submit):
    # A key built from the user id and the amount would have refused the second one.
    user = make_user()
    funded_account(user, "100.00")

    submit(user, "10.00")
    submit(user, "10.00")

    assert Withdrawal.objects.filter(user=user).count() == 2


def test_a_refused_submission_keeps_its_evaluation_but_creates_no_order_and_holds_nothing(
    make_user, funded_account, submit
):
    user = make_user()
    funded_account(user, "50000.00")

    with pytest.raises(errors.LimitExceeded) as refused:
        submit(user, "10000.01")

    assert refused.value.fields == {"risk_rule": "single_max"}
    assert not Withdrawal.objects.exists()
    assert wallet_of(user).held == D("0.00")
    evaluation = RiskEvaluation.objects.get()
    assert evaluation.outcome == RiskEvaluation.Outcome.REJECT
    assert evaluation.inputs["amount"] == "10000.01"


def test_refused_submissions_use_no_quota(make_user, funded_account, submit, risk_rule):
    # Given the hourly limit of 3 and a user refused twice for the amount
    user = make_user()
    funded_account(user, "50000.00")
    for _ in range(2):
        with pytest.raises(errors.LimitExceeded):
            submit(user, "0.50")

    # Then three withdrawals still pass within the hour and the fourth is refused
    for _ in range(3):
        submit(user, "10.00")
    with pytest.raises(errors.LimitExceeded) as refused:
        submit(user, "10.00")
    assert refused.value.fields == {"risk_rule": "hourly_count"}


def test_a_rolled_back_submission_uses_no_quota(make_user, funded_account, submit):
    # Given a user whose second submission fails for funds after the risk check allowed it
    user = make_user()
    funded_account(user, "25.00")
    submit(user, "20.00")
    with pytest.raises(errors.InsufficientFunds):
        submit(user, "20.00")

    # Then the rolled-back attempt left nothing, and two more fit in the hour
    assert Withdrawal.objects.filter(user=user).count() == 1
    funded_account(user, "100.00")
    submit(user, "20.00")
    submit(user, "20.00")
    assert Withdrawal.objects.filter(user=user).count() == 3


def test_cancelled_rejected_and_failed_withdrawals_do_not_count_toward_the_daily_amount(
    make_user, funded_account, submit, risk_rule, staff_in
):
    # Given a daily amount of 1,000.00 and four orders of 200.00 today: one kept, one cancelled,
    # one rejected and one failed at the channel
    risk_rule("daily_amount", amount=D("1000.00"))
    risk_rule("hourly_count", enabled=False)
    risk_rule("daily_count", count=10)
    risk_rule("large_amount_review", amount=D("150.00"))
    user = make_user()
    funded_account(user, "5000.00")
    kept = submit(user, "200.00")
    services.withdrawal_cancel(withdrawal=submit(user, "200.00"), actor=user)
    services.withdrawal_reject(withdrawal=submit(user, "200.00"), actor=staff_in("finance_reviewer"), reason="no")
    failed = services.withdrawal_approve(withdrawal=submit(user, "200.00"), actor=staff_in("finance_reviewer"))
    services.withdrawal_dispatch(withdrawal=failed)
    services.withdrawal_fail(withdrawal=failed, code="ACCOUNT_CLOSED", message="closed")
    assert kept.status == S.PENDING

    # Then only the kept 200.00 counts: 800.01 more is refused and 800.00 fits
    with pytest.raises(errors.LimitExceeded) as refused:
        submit(user, "800.01")
    assert refused.value.fields == {"risk_rule": "daily_amount"}
    submit(user, "800.00")


def test_reject_cancel_and_failure_release_the_hold_and_leave_the_ledger_sound(withdrawal_in):
    for status in (S.REJECTED, S.CANCELLED, S.FAILED):
        withdrawal = withdrawal_in(status)
        account = wallet_of(withdrawal.user)
        assert (account.balance, account.held) == (D("20000.00"), D("0.00")), status
        assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.RELEASED
    assert ledger_audit() == []


def test_success_captures_the_hold_to_clearing_and_fees(withdrawal_in):
    withdrawal = withdrawal_in(S.SUCCESS, "6000.00")

    account = wallet_of(withdrawal.user)
    assert (account.balance, account.held) == (D("14000.00"), D("0.00"))
    hold = Hold.objects.get(pk=withdrawal.hold_id)
    entries = Entry.objects.filter(transfer__captured_hold=hold).select_related("account")
    legs = {entry.account.code: entry.amount for entry in entries}
    assert legs == {account.code: D("-6000.00"), "clearing:bank": D("5995.00"), "fees": D("5.00")}
    assert latest(withdrawal).channel_reference == "CH-1"
    assert ledger_audit() == []


def test_a_bounce_after_success_gives_the_whole_amount_back(withdrawal_in):
    withdrawal = withdrawal_in(S.REFUNDED, "6000.00")

    summary = selectors.wallet_summary(user=withdrawal.user)
    assert (summary.balance, summary.available, summary.frozen) == (D("20000.00"), D("20000.00"), D("0.00"))
    assert latest(withdrawal).status_reason == "bank bounce"
    assert ledger_audit() == []


def test_rejecting_needs_a_reason_and_approving_needs_the_permission(withdrawal_in, staff_in, make_user):
    withdrawal = withdrawal_in(S.PENDING)

    with pytest.raises(errors.ValidationFailed):
        services.withdrawal_reject(withdrawal=withdrawal, actor=staff_in("finance_reviewer"), reason="  ")
    for outsider in (staff_in("auditor"), staff_in("operations"), make_user()):
        with pytest.raises(errors.PermissionDenied):
            services.withdrawal_approve(withdrawal=withdrawal, actor=outsider)
        with pytest.raises(errors.PermissionDenied):
            services.withdrawal_reject(withdrawal=withdrawal, actor=outsider, reason="no")

    assert latest(withdrawal).status == S.PENDING
    assert not WithdrawalApproval.objects.exists()


def test_only_the_owner_cancels(withdrawal_in, make_user):
    withdrawal = withdrawal_in(S.APPROVED, "100.00")

    with pytest.raises(errors.PermissionDenied):
        services.withdrawal_cancel(withdrawal=withdrawal, actor=make_user())

    assert latest(withdrawal).status == S.APPROVED


def test_four_eyes_needs_two_distinct_staff_and_the_second_from_a_supervisor(withdrawal_in, staff_in):
    # Given a 9,000.00 withdrawal (at or above the 8,000.00 four-eyes threshold)
    withdrawal = withdrawal_in(S.PENDING, "9000.00")
    assert withdrawal.approvals_required == 2
    first, other_reviewer = staff_in("finance_reviewer"), staff_in("finance_reviewer")

    # When a reviewer approves, then it is still pending with one approval
    assert services.withdrawal_approve(withdrawal=withdrawal, actor=first).status == S.PENDING

    # When the same reviewer approves again, then it is refused
    with pytest.raises(errors.PermissionDenied, match="already approved"):
        services.withdrawal_approve(withdrawal=withdrawal, actor=first)

    # When another reviewer without the supervisor group approves, then it is refused
    with pytest.raises(errors.PermissionDenied, match="supervisor"):
        services.withdrawal_approve(withdrawal=withdrawal, actor=other_reviewer)
    assert WithdrawalApproval.objects.filter(withdrawal=withdrawal).count() == 1

    # When a supervisor approves, then it is approved, by two people, the second a supervisor
    supervisor = staff_in("finance_supervisor")
    assert services.withdrawal_approve(withdrawal=withdrawal, actor=supervisor).status == S.APPROVED
    approvals = list(WithdrawalApproval.objects.filter(withdrawal=withdrawal).order_by("created_at"))
    assert [(a.actor, a.as_supervisor) for a in approvals] == [(first, False), (supervisor, True)]
    assert StateLog.objects.for_(withdrawal).filter(transition="approve").get().by == supervisor


def test_a_supervisor_may_give_the_first_approval_but_not_both(withdrawal_in, staff_in):
    withdrawal = withdrawal_in(S.PENDING, "8000.00")
    supervisor = staff_in("finance_supervisor")

    services.withdrawal_approve(withdrawal=withdrawal, actor=supervisor)
    with pytest.raises(errors.PermissionDenied):
        services.withdrawal_approve(withdrawal=withdrawal, actor=supervisor)
    services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_supervisor"))

    assert latest(withdrawal).status == S.APPROVED


def test_four_eyes_completes_when_the_supervisor_approves_first_and_a_reviewer_second(withdrawal_in, staff_in):
    # Given a 9,000.00 withdrawal approved first by a supervisor
    withdrawal = withdrawal_in(S.PENDING, "9000.00")
    supervisor, reviewer = staff_in("finance_supervisor"), staff_in("finance_reviewer")
    assert services.withdrawal_approve(withdrawal=withdrawal, actor=supervisor).status == S.PENDING

    # When a reviewer gives the second approval, then it is approved by two people, one a supervisor
    assert services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer).status == S.APPROVED
    approvals = list(WithdrawalApproval.objects.filter(withdrawal=withdrawal).order_by("created_at", "id"))
    assert [(a.actor, a.as_supervisor) for a in approvals] == [(supervisor, True), (reviewer, False)]
    assert StateLog.objects.for_(withdrawal).filter(transition="approve").get().by == reviewer


def test_two_approvals_without_a_supervisor_never_satisfy_the_four_eyes_guard(withdrawal_in, staff_in):
    # Given a four-eyes withdrawal with two reviewers' approvals written past the service
    withdrawal = withdrawal_in(S.PENDING, "9000.00")
    for reviewer in (staff_in("finance_reviewer"), staff_in("finance_reviewer")):
        WithdrawalApproval.objects.create(withdrawal=withdrawal, actor=reviewer, as_supervisor=False)

    # Then the transition's own guard still refuses it
    assert not can_proceed(latest(withdrawal).approve)


def test_below_the_four_eyes_threshold_one_approval_suffices(withdrawal_in, staff_in):
    withdrawal = withdrawal_in(S.PENDING, "7999.99")

    services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_reviewer"))

    assert latest(withdrawal).status == S.APPROVED


def test_nobody_approves_their_own_withdrawal(staff_in, funded_account, submit):
    staff = staff_in("finance_supervisor")
    funded_account(staff, "6000.00")
    withdrawal = submit(staff, "6000.00")

    with pytest.raises(errors.PermissionDenied, match="own"):
        services.withdrawal_approve(withdrawal=withdrawal, actor=staff)


def test_an_approval_enqueues_the_payout_only_when_it_commits(
    withdrawal_in, staff_in, django_capture_on_commit_callbacks, sent_tasks
):
    withdrawal = withdrawal_in(S.PENDING)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_reviewer"))
    assert sent_tasks == []

    for callback in callbacks:
        callback()
    assert sent_tasks.named("payments.withdrawal_dispatch") == [{"args": [withdrawal.pk], "countdown": None}]


def test_an_approval_that_rolls_back_enqueues_nothing(withdrawal_in, staff_in, django_capture_on_commit_callbacks):
    withdrawal = withdrawal_in(S.PENDING)
    reviewer = staff_in("finance_reviewer")
    WithdrawalApproval.objects.create(withdrawal=withdrawal, actor=reviewer)

    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(errors.PermissionDenied):
        services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer)

    assert callbacks == []


def test_a_disabled_channel_is_not_used_and_without_one_nothing_is_written(make_user, funded_account, submit):
    user = make_user()
    funded_account(user, "100.00")
    Channel.objects.filter(code="bank").update(enabled=False)

    with pytest.raises(errors.NoChannel):
        submit(user, "10.00")

    assert not Withdrawal.objects.exists()
    assert not RiskEvaluation.objects.exists()


def test_the_cheapest_admitting_channel_pays(make_user, funded_account, submit):
    user = make_user()
    funded_account(user, "1000.00")
    Channel.objects.create(
        code="bank2",
        name="Cheaper bank",
        adapter="bank",
        payout_account_kind="bank_card",
        fee_rate=D("0"),
        fee_min=D("0.01"),
        fee_max=D("1.00"),
        max_amount=D("50.00"),
    )

    assert submit(user, "50.00").channel.code == "bank2"
    assert submit(user, "50.01").channel.code == "bank"


def test_the_order_refers_to_a_payout_account_of_its_user_only(make_user, funded_account, card_account):
    owner, other = make_user(), make_user()
    funded_account(other, "100.00")

    with pytest.raises(errors.ValidationFailed):
        services.withdrawal_submit(
            user=other, payout_account=card_account(owner), amount=D("10.00"), idempotency_key="k"
        )

    assert not Withdrawal.objects.exists()


def test_a_submission_costs_a_fixed_number_of_queries_however_long_the_history(
    make_user, funded_account, card_account, django_assert_num_queries, risk_rule
):
    # Given a user with a payout account and a history of withdrawals
    risk_rule("hourly_count", enabled=False)
    risk_rule("daily_count", count=50)
    risk_rule("monthly_count", count=50)
    user = make_user()
    funded_account(user, "1000.00")
    account = card_account(user)
    for number in range(10):
        services.withdrawal_submit(user=user, payout_account=account, amount=D("1.00"), idempotency_key=f"h{number}")

    # Then one more submission is: replay check, channels, pending campaign rewards, the user's
    # lock, replay check again, the history in one aggregate, blocklist, rules, the evaluation,
    # the wallet, the hold, the order and its log row, plus the savepoints of the transaction
    # and of the hold
    with django_assert_num_queries(17):
        services.withdrawal_submit(user=user, payout_account=account, amount=D("1.00"), idempotency_key="last")


@pytest.mark.parametrize("target", ["user", "payout_account"])
def test_a_pending_withdrawal_blocklisted_after_submission_cannot_be_approved(
    make_user, funded_account, submit, staff_in, risk_rule, target
):
    # Given a withdrawal waiting for review, then a blocklist entry for its user or its card
    risk_rule("large_amount_review", amount=D("0.01"))
    user = make_user()
    funded_account(user, "100.00")
    withdrawal = submit(user, "50.00")
    assert withdrawal.status == WithdrawalStatus.PENDING
    about = {
        "user": {"kind": "user", "user": user},
        "payout_account": {"kind": "payout_account", "fingerprint": withdrawal.payout_account.lookup_index},
    }[target]
    risk_services.blocklist_add(label="fraud report", reason="chargeback", actor=staff_in("operations"), **about)

    # When a reviewer approves it, then it is refused and nothing moves
    with pytest.raises(errors.RiskRejected) as refused:
        services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_reviewer"))

    assert refused.value.fields == {"risk_rule": f"{target}_blocked"}
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING and not withdrawal.approvals.exists()
