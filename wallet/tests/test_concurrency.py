"""Many connections at once against the same accounts, on the real database."""

from collections import Counter
from decimal import Decimal

import pytest

from wallet import errors, services
from wallet.audit import ledger_audit
from wallet.models import Account, Hold
from wallet.services import Leg
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_fifty_concurrent_place_and_capture_of_10_against_200_succeed_exactly_twenty_times(make_user, funded_account):
    account = funded_account(make_user("payer"), "200.00")
    clearing = services.account_for_system(code="clearing:wechat")
    lowest_available: list[Decimal] = []

    def withdraw(i: int) -> str:
        try:
            hold = services.hold_place(idempotency_key=f"wd-{i}", account=account.pk, amount=D("10.00"))
        except errors.InsufficientFunds:
            return "insufficient_funds"
        services.hold_capture(hold=hold.pk, destinations=[Leg(clearing, D("10.00"))], kind="withdrawal")
        row = Account.objects.get(pk=account.pk)
        lowest_available.append(row.balance - row.held)
        return "captured"

    outcomes = run_in_threads(50, withdraw)

    assert outcomes == Counter({"captured": 20, "insufficient_funds": 30})
    account.refresh_from_db()
    assert (account.balance, account.held) == (D("0.00"), D("0.00"))
    assert min(lowest_available) >= D("0.00")
    assert Hold.objects.filter(account=account, status=Hold.Status.CAPTURED).count() == 20
    assert Hold.objects.filter(account=account).count() == 20
    assert ledger_audit() == []


def test_fifty_concurrent_transfers_in_both_directions_never_deadlock(make_user, funded_account):
    a = funded_account(make_user("a"), "1000.00")
    b = funded_account(make_user("b"), "1000.00")

    def transfer(i: int) -> str:
        source, target = (a, b) if i % 2 == 0 else (b, a)
        services.transfer_post(
            idempotency_key=f"ab-{i}", kind="p2p", legs=[Leg(source.pk, D("-7.00")), Leg(target.pk, D("7.00"))]
        )
        return "posted"

    outcomes = run_in_threads(50, transfer)

    assert outcomes == Counter({"posted": 50})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (D("1000.00"), D("1000.00"))
    assert ledger_audit() == []


def test_concurrent_postings_with_one_idempotency_key_post_once(make_user, funded_account):
    a = funded_account(make_user("a"), "100.00")
    b = services.account_for_user(user=make_user("b"))

    def transfer(i: int) -> str:
        transfer = services.transfer_post(
            idempotency_key="one-key", kind="p2p", legs=[Leg(a.pk, D("-5.00")), Leg(b.pk, D("5.00"))]
        )
        return f"transfer {transfer.pk}"

    outcomes = run_in_threads(20, transfer)

    assert len(outcomes) == 1 and sum(outcomes.values()) == 20
    a.refresh_from_db()
    assert a.balance == D("95.00")
