"""Many submissions and reviews at once, each on its own connection, against the real database."""

from collections import Counter
from decimal import Decimal

import pytest

from payments.withdrawals import services
from payments.withdrawals.models import Withdrawal, WithdrawalApproval, WithdrawalStatus
from wallet.audit import ledger_audit
from wallet.models import Account, Hold
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_twenty_parallel_submits_against_the_daily_count_of_five_accept_exactly_five(
    make_user, funded_account, card_account, risk_rule
):
    # Given the daily count of 5 as the only count limit and a user with money for all 20
    risk_rule("hourly_count", enabled=False)
    user = make_user()
    funded_account(user, "1000.00")
    account = card_account(user)

    # When 20 submissions arrive at once
    def submit(i: int) -> str:
        services.withdrawal_submit(user=user, payout_account=account, amount=D("10.00"), idempotency_key=f"k{i}")
        return "accepted"

    outcomes = run_in_threads(20, submit)

    # Then exactly 5 are accepted and hold 50.00; the 15 refused hold and count nothing
    assert outcomes == Counter({"accepted": 5, "limit_exceeded": 15})
    assert Withdrawal.objects.filter(user=user).count() == 5
    wallet = Account.objects.get(owner=user)
    assert (wallet.balance, wallet.held) == (D("1000.00"), D("50.00"))
    assert ledger_audit() == []


def test_twenty_parallel_submits_beyond_the_balance_never_make_it_negative(
    make_user, funded_account, card_account, risk_rule
):
    # Given a user with 100.00 and no count limits in the way
    for code in ("hourly_count", "daily_count"):
        risk_rule(code, enabled=False)
    user = make_user()
    funded_account(user, "100.00")
    account = card_account(user)
    lowest_available: list[Decimal] = []

    # When 20 submissions of 30.00 arrive at once
    def submit(i: int) -> str:
        services.withdrawal_submit(user=user, payout_account=account, amount=D("30.00"), idempotency_key=f"k{i}")
        row = Account.objects.get(owner=user)
        lowest_available.append(row.balance - row.held)
        return "accepted"

    outcomes = run_in_threads(20, submit)

    # Then three fit, the rest are refused for funds, and available never went below zero
    assert outcomes == Counter({"accepted": 3, "insufficient_funds": 17})
    wallet = Account.objects.get(owner=user)
    assert (wallet.balance, wallet.held) == (D("100.00"), D("90.00"))
    assert min(lowest_available) >= D("0.00")
    assert ledger_audit() == []


def test_parallel_retries_with_one_idempotency_key_create_one_order(make_user, funded_account, card_account):
    user = make_user()
    funded_account(user, "100.00")
    account = card_account(user)

    def submit(i: int) -> str:
        submission = services.withdrawal_submit(
            user=user, payout_account=account, amount=D("10.00"), idempotency_key="retry"
        )
        return submission.withdrawal.order_no

    outcomes = run_in_threads(10, submit)

    assert len(outcomes) == 1 and sum(outcomes.values()) == 10
    assert Hold.objects.filter(account__owner=user).count() == 1


def test_a_cancel_racing_an_approval_leaves_one_consistent_outcome(make_user, funded_account, card_account, staff_in):
    # Given ten pending withdrawals, each cancelled by its owner while a reviewer approves it
    reviewer = staff_in("finance_reviewer")
    pending = []
    for _ in range(10):
        user = make_user()
        funded_account(user, "6000.00")
        submission = services.withdrawal_submit(
            user=user, payout_account=card_account(user), amount=D("6000.00"), idempotency_key="k"
        )
        pending.append(submission.withdrawal)

    def race(i: int) -> str:
        withdrawal = pending[i // 2]
        if i % 2:
            return services.withdrawal_cancel(withdrawal=withdrawal, actor=withdrawal.user).status
        return services.withdrawal_approve(withdrawal=withdrawal, actor=reviewer).status

    run_in_threads(20, race)

    # Then each ends either cancelled (hold released) or approved (hold pending, one approval)
    for withdrawal in Withdrawal.objects.filter(pk__in=[w.pk for w in pending]).select_related("hold"):
        if withdrawal.status == WithdrawalStatus.CANCELLED:
            assert withdrawal.hold.status == Hold.Status.RELEASED
        else:
            assert withdrawal.status == WithdrawalStatus.APPROVED
            assert withdrawal.hold.status == Hold.Status.PENDING
            assert WithdrawalApproval.objects.filter(withdrawal=withdrawal).count() == 1
    assert ledger_audit() == []


def test_two_supervisors_racing_on_a_four_eyes_order_approve_it_once(make_user, funded_account, card_account, staff_in):
    user = make_user()
    funded_account(user, "9000.00")
    withdrawal = services.withdrawal_submit(
        user=user, payout_account=card_account(user), amount=D("9000.00"), idempotency_key="k"
    ).withdrawal
    services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_reviewer"))
    supervisors = [staff_in("finance_supervisor") for _ in range(5)]

    outcomes = run_in_threads(
        5, lambda i: services.withdrawal_approve(withdrawal=withdrawal, actor=supervisors[i]).status
    )

    assert outcomes == Counter({WithdrawalStatus.APPROVED: 1, "conflict": 4})
    assert WithdrawalApproval.objects.filter(withdrawal=withdrawal).count() == 2
