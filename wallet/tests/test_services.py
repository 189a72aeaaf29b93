"""Ledger services: postings, idempotency, holds, frozen and hot accounts."""

import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from wallet import errors, services
from wallet.audit import ledger_audit
from wallet.models import Account, Entry, Hold, Transfer
from wallet.selectors import account_balance, pending_holds
from wallet.services import Leg

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_transfer_moves_money_and_records_running_balances(alice, bob, funded_account):
    source = funded_account(alice, "100.00")
    target = services.account_for_user(user=bob)

    transfer = services.transfer_post(
        idempotency_key="t-1", kind="p2p", legs=[Leg(source, D("-30.50")), Leg(target, D("30.50"))], memo="lunch"
    )

    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, target.balance) == (D("69.50"), D("30.50"))
    entries = {e.account_id: e for e in Entry.objects.filter(transfer_id=transfer.pk)}
    assert entries[source.pk].amount == D("-30.50") and entries[source.pk].balance_after == D("69.50")
    assert entries[target.pk].amount == D("30.50") and entries[target.pk].balance_after == D("30.50")
    assert Transfer.objects.get(pk=transfer.pk).memo == "lunch"
    assert ledger_audit() == []


def test_the_same_idempotency_key_twice_posts_one_transfer(alice, bob, funded_account):
    source = funded_account(alice, "100.00")
    target = services.account_for_user(user=bob)
    legs = [Leg(source, D("-10.00")), Leg(target, D("10.00"))]

    first = services.transfer_post(idempotency_key="same", kind="p2p", legs=legs)
    second = services.transfer_post(idempotency_key="same", kind="p2p", legs=legs)

    assert first.pk == second.pk
    assert Transfer.objects.filter(idempotency_key="same").count() == 1
    source.refresh_from_db()
    assert source.balance == D("90.00")


def test_the_same_key_with_another_amount_is_a_conflict_and_changes_nothing(alice, bob, funded_account):
    source = funded_account(alice, "100.00")
    target = services.account_for_user(user=bob)
    services.transfer_post(idempotency_key="k", kind="p2p", legs=[Leg(source, D("-10.00")), Leg(target, D("10.00"))])

    with pytest.raises(errors.IdempotencyConflict):
        services.transfer_post(
            idempotency_key="k", kind="p2p", legs=[Leg(source, D("-11.00")), Leg(target, D("11.00"))]
        )

    source.refresh_from_db()
    assert source.balance == D("90.00")
    assert Transfer.objects.filter(idempotency_key="k").count() == 1


def test_a_debit_beyond_the_available_balance_is_refused(alice, bob, funded_account):
    source = funded_account(alice, "10.00")
    target = services.account_for_user(user=bob)
    services.hold_place(idempotency_key="h", account=source, amount=D("5.00"))

    with pytest.raises(errors.InsufficientFunds):
        services.transfer_post(
            idempotency_key="too-much", kind="p2p", legs=[Leg(source, D("-5.01")), Leg(target, D("5.01"))]
        )

    assert not Transfer.objects.filter(idempotency_key="too-much").exists()
    source.refresh_from_db()
    assert (source.balance, source.held) == (D("10.00"), D("5.00"))


@pytest.mark.parametrize(
    ("legs", "field"),
    [
        ([("a", "-1.00")], "too_few"),
        ([("a", "-1.00"), ("b", "2.00")], "unbalanced"),
        ([("a", "-1.001"), ("b", "1.001")], "invalid_amount"),
        ([("a", "0.00"), ("b", "0.00")], "invalid_amount"),
        ([("a", "-1.00"), ("a", "1.00")], "duplicate"),
    ],
)
def test_malformed_legs_are_refused_before_touching_the_database(alice, bob, funded_account, legs, field):
    accounts = {"a": funded_account(alice, "10.00"), "b": services.account_for_user(user=bob)}
    before = Transfer.objects.count()

    with pytest.raises(errors.ValidationFailed) as caught:
        services.transfer_post(
            idempotency_key="bad", kind="p2p", legs=[Leg(accounts[name], D(amount)) for name, amount in legs]
        )

    assert caught.value.fields == {"legs": field}
    assert Transfer.objects.count() == before


def test_a_transfer_cannot_mix_currencies(alice, bob, funded_account):
    source = funded_account(alice, "10.00")
    usd = services.account_for_user(user=bob, currency="USD")

    with pytest.raises(errors.ValidationFailed, match="currencies"):
        services.transfer_post(idempotency_key="fx", kind="p2p", legs=[Leg(source, D("-1.00")), Leg(usd, D("1.00"))])


def test_a_frozen_account_refuses_debits_but_accepts_credits(alice, bob, funded_account):
    frozen = funded_account(alice, "50.00")
    other = funded_account(bob, "50.00")
    services.account_set_status(account=frozen, status=Account.Status.FROZEN)

    with pytest.raises(errors.AccountFrozen):
        services.transfer_post(idempotency_key="out", kind="p2p", legs=[Leg(frozen, D("-1.00")), Leg(other, D("1.00"))])
    with pytest.raises(errors.AccountFrozen):
        services.hold_place(idempotency_key="hold-frozen", account=frozen, amount=D("1.00"))
    services.transfer_post(idempotency_key="in", kind="p2p", legs=[Leg(other, D("-2.00")), Leg(frozen, D("2.00"))])

    frozen.refresh_from_db()
    assert frozen.balance == D("52.00")


def test_a_hold_placed_before_a_freeze_can_still_be_captured(alice, funded_account):
    account = funded_account(alice, "50.00")
    hold = services.hold_place(idempotency_key="pre-freeze", account=account, amount=D("20.00"))
    services.account_set_status(account=account, status=Account.Status.FROZEN)
    clearing = services.account_for_system(code="clearing:wechat")

    services.hold_capture(hold=hold, destinations=[Leg(clearing, D("20.00"))], kind="withdrawal")

    account.refresh_from_db()
    assert (account.balance, account.held) == (D("30.00"), D("0.00"))


def test_hold_capture_splits_the_money_and_a_partial_capture_releases_the_rest(alice, funded_account):
    account = funded_account(alice, "100.00")
    clearing = services.account_for_system(code="clearing:wechat")
    fees = services.account_for_system(code="fees")
    hold = services.hold_place(idempotency_key="wd-1", account=account, amount=D("50.00"))
    account.refresh_from_db()
    assert (account.balance, account.held, account.available) == (D("100.00"), D("50.00"), D("50.00"))

    transfer = services.hold_capture(
        hold=hold, destinations=[Leg(clearing, D("39.90")), Leg(fees, D("0.10"))], kind="withdrawal"
    )

    account.refresh_from_db()
    assert (account.balance, account.held) == (D("60.00"), D("0.00"))
    assert account_balance(account=clearing) == D("39.90")
    fees.refresh_from_db()
    assert account_balance(account=fees) == D("0.10")
    captured = Hold.objects.get(pk=hold.pk)
    assert captured.status == Hold.Status.CAPTURED and captured.capture_transfer_id == transfer.pk
    assert ledger_audit() == []


def test_capture_and_release_are_idempotent_and_exclusive(alice, funded_account):
    account = funded_account(alice, "100.00")
    clearing = services.account_for_system(code="clearing:wechat")
    captured = services.hold_place(idempotency_key="c", account=account, amount=D("10.00"))
    released = services.hold_place(idempotency_key="r", account=account, amount=D("10.00"))

    first = services.hold_capture(hold=captured, destinations=[Leg(clearing, D("10.00"))], kind="withdrawal")
    again = services.hold_capture(hold=captured, destinations=[Leg(clearing, D("10.00"))], kind="withdrawal")
    services.hold_release(hold=released)
    services.hold_release(hold=released)

    assert first.pk == again.pk
    with pytest.raises(errors.IdempotencyConflict):
        services.hold_capture(hold=captured, destinations=[Leg(clearing, D("9.00"))], kind="withdrawal")
    with pytest.raises(errors.Conflict):
        services.hold_release(hold=captured)
    with pytest.raises(errors.Conflict):
        services.hold_capture(hold=released, destinations=[Leg(clearing, D("10.00"))], kind="withdrawal")
    account.refresh_from_db()
    assert (account.balance, account.held) == (D("90.00"), D("0.00"))
    assert list(pending_holds(account=account)) == []
    assert ledger_audit() == []


def test_a_capture_larger_than_the_hold_is_refused(alice, funded_account):
    account = funded_account(alice, "100.00")
    clearing = services.account_for_system(code="clearing:wechat")
    hold = services.hold_place(idempotency_key="small", account=account, amount=D("10.00"))

    with pytest.raises(errors.ValidationFailed, match="exceeds"):
        services.hold_capture(hold=hold, destinations=[Leg(clearing, D("10.01"))], kind="withdrawal")

    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.PENDING


def test_the_same_hold_key_returns_the_first_hold_and_other_terms_conflict(alice, funded_account):
    account = funded_account(alice, "100.00")

    first = services.hold_place(idempotency_key="hk", account=account, amount=D("10.00"))
    again = services.hold_place(idempotency_key="hk", account=account, amount=D("10.00"))

    assert first.pk == again.pk
    with pytest.raises(errors.IdempotencyConflict):
        services.hold_place(idempotency_key="hk", account=account, amount=D("11.00"))
    account.refresh_from_db()
    assert account.held == D("10.00")


def test_a_hold_on_an_account_that_does_not_exist_is_a_validation_error_and_writes_nothing():
    with pytest.raises(errors.ValidationFailed, match="unknown account"):
        services.hold_place(idempotency_key="ghost", account=987_654_321, amount=D("1.00"))

    assert not Hold.objects.filter(idempotency_key="ghost").exists()


def test_a_hot_account_cannot_hold_money():
    clearing = services.account_for_system(code="clearing:alipay")

    with pytest.raises(errors.ValidationFailed, match="hot"):
        services.hold_place(idempotency_key="hot-hold", account=clearing, amount=D("1.00"))


def test_system_accounts_get_the_right_flags():
    clearing = services.account_for_system(code="clearing:wechat")
    campaign = services.account_for_system(code="campaign:double11")
    fees = services.account_for_system(code="fees")

    assert (clearing.is_hot, clearing.allow_negative, clearing.kind) == (True, True, Account.Kind.CLEARING)
    assert (campaign.is_hot, campaign.allow_negative) == (True, True)
    assert (fees.is_hot, fees.allow_negative) == (False, False)
    with pytest.raises(errors.ValidationFailed):
        services.account_for_system(code="bogus:x")


def _post_and_wait_uncommitted(source: Account, target: Account, key: str, posted, release) -> None:
    """In its own transaction, post source -> target and keep the transaction open."""
    try:
        with transaction.atomic():
            services.transfer_post(
                idempotency_key=key, kind="withdrawal", legs=[Leg(source, D("-1.00")), Leg(target, D("1.00"))]
            )
            posted.set()
            release.wait(10)
    finally:
        connections["default"].close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("code", "waits"), [("clearing:wechat", False), ("fees", True)])
def test_only_hot_accounts_take_concurrent_postings_without_waiting(make_user, funded_account, code, waits):
    # given an open transaction that has posted to the system account and not committed
    first = funded_account(make_user("first"), "10.00")
    second = funded_account(make_user("second"), "10.00")
    target = services.account_for_system(code=code)
    posted, release = threading.Event(), threading.Event()
    other = threading.Thread(target=_post_and_wait_uncommitted, args=(first, target, "open", posted, release))
    other.start()
    assert posted.wait(10)
    try:
        # when a second posting to the same account runs with a short lock timeout
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        if waits:
            with pytest.raises(OperationalError, match="lock timeout"):
                services.transfer_post(
                    idempotency_key="second", kind="withdrawal", legs=[Leg(second, D("-1.00")), Leg(target, D("1.00"))]
                )
        else:
            services.transfer_post(
                idempotency_key="second", kind="withdrawal", legs=[Leg(second, D("-1.00")), Leg(target, D("1.00"))]
            )
    finally:
        release.set()
        other.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    # then a hot account took both postings at once; an ordinary one made the second wait
    target.refresh_from_db()
    assert account_balance(account=target) == (D("1.00") if waits else D("2.00"))
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_each_posting_is_one_round_trip_outside_a_transaction(make_user, funded_account):
    account = funded_account(make_user("alice"), "100.00")
    clearing = services.account_for_system(code="clearing:wechat")

    with CaptureQueriesContext(connection) as transfer_queries:
        services.transfer_post(
            idempotency_key="rt", kind="p2p", legs=[Leg(account, D("-1.00")), Leg(clearing, D("1.00"))]
        )
    with CaptureQueriesContext(connection) as hold_queries:
        hold = services.hold_place(idempotency_key="rt-hold", account=account, amount=D("2.00"))
    with CaptureQueriesContext(connection) as capture_queries:
        services.hold_capture(hold=hold, destinations=[Leg(clearing, D("2.00"))], kind="withdrawal")

    assert [len(q) for q in (transfer_queries, hold_queries, capture_queries)] == [1, 1, 1]
    account.refresh_from_db()
    assert account.balance == D("97.00")


def test_inside_a_transaction_a_refused_posting_leaves_the_callers_transaction_usable(alice, bob, funded_account):
    source = funded_account(alice, "1.00")
    target = services.account_for_user(user=bob)

    with transaction.atomic():
        with pytest.raises(errors.InsufficientFunds):
            services.transfer_post(
                idempotency_key="no", kind="p2p", legs=[Leg(source, D("-2.00")), Leg(target, D("2.00"))]
            )
        services.transfer_post(
            idempotency_key="yes", kind="p2p", legs=[Leg(source, D("-1.00")), Leg(target, D("1.00"))]
        )

    target.refresh_from_db()
    assert target.balance == D("1.00")
