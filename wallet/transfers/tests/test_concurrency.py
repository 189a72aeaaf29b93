"""Transfers racing each other, each on its own connection, against the real database."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from risk.tests.support import set_rule
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import PeerTransfer, ReceiveCode
from wallet.selectors import wallet_summary
from wallet.tests.threads import run_in_threads
from wallet.transfers import codes, services

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_twelve_parallel_transfers_against_a_daily_count_of_five_post_exactly_five(sender, recipient):
    # Given a daily count of 5 and money for all twelve
    set_rule("transfer_daily_count", count=5)

    # When twelve transfers of one sender arrive at once
    def transfer(i: int) -> str:
        services.transfer_send(sender=sender, recipient=recipient, amount=D("1.00"), idempotency_key=f"k{i}")
        return "posted"

    outcomes = run_in_threads(12, transfer)

    # Then the sender's lock lets exactly five through
    assert outcomes == {"posted": 5, "limit_exceeded": 7}
    assert PeerTransfer.objects.filter(sender=sender).count() == 5
    assert wallet_summary(user=recipient).balance == D("5.00")
    assert ledger_audit() == []


def test_parallel_transfers_racing_past_the_daily_amount_never_both_pass(sender, recipient):
    set_rule("transfer_daily_amount", amount=D("100.00"))

    def transfer(i: int) -> str:
        services.transfer_send(sender=sender, recipient=recipient, amount=D("60.00"), idempotency_key=f"k{i}")
        return "posted"

    outcomes = run_in_threads(6, transfer)

    assert outcomes == {"posted": 1, "limit_exceeded": 5}
    assert wallet_summary(user=recipient).balance == D("60.00")


def test_two_users_paying_each_other_at_once_do_not_deadlock(make_user, funded_account):
    alice, bob = make_user("alice"), make_user("bob")
    funded_account(alice, "100.00")
    funded_account(bob, "100.00")
    pairs = [(alice, bob), (bob, alice)] * 5

    def transfer(i: int) -> str:
        payer, payee = pairs[i]
        services.transfer_send(sender=payer, recipient=payee, amount=D("1.00"), idempotency_key=f"k{i}")
        return "posted"

    assert run_in_threads(len(pairs), transfer) == {"posted": len(pairs)}
    assert (wallet_summary(user=alice).balance, wallet_summary(user=bob).balance) == (D("100.00"), D("100.00"))


def test_two_payers_of_one_single_use_code_one_wins(make_user, funded_account):
    # Given a single-use code and eight payers with money
    shop = make_user("shop")
    now = timezone.now()
    code = ReceiveCode.objects.create(
        owner=shop, amount=D("9.00"), single_use=True, created_at=now, expires_at=now + codes.DEFAULT_EXPIRY_FIXED
    )
    token = codes.token_for(code)
    payers = [make_user(f"payer{i}") for i in range(8)]
    for payer in payers:
        funded_account(payer, "20.00")

    # When they all pay it at once
    def pay(i: int) -> str:
        services.transfer_send(sender=payers[i], receive_code=token, amount=None, idempotency_key="pay")
        return "paid"

    outcomes = run_in_threads(len(payers), pay)

    # Then one pays, the others are told it is used, and the shop got the money once
    assert outcomes == {"paid": 1, "conflict": 7}
    assert PeerTransfer.objects.filter(receive_code=code).count() == 1
    assert wallet_summary(user=shop).balance == D("9.00")
    assert ledger_audit() == []


def test_the_database_refuses_a_second_payment_of_a_single_use_code_even_without_the_check(
    make_user, funded_account, sender
):
    # Given a single-use code already paid
    shop = make_user("shop")
    now = timezone.now()
    code = ReceiveCode.objects.create(
        owner=shop, amount=D("9.00"), single_use=True, created_at=now, expires_at=now + codes.DEFAULT_EXPIRY_FIXED
    )
    services.transfer_send(sender=sender, receive_code=codes.token_for(code), amount=None, idempotency_key="a")
    hold = ledger.hold_place(idempotency_key="h", account=ledger.account_for_user(user=sender), amount=D("9.00"))

    # When a row paying it again is written past the service's check, then the index refuses it
    with pytest.raises(IntegrityError, match="peer_transfer_single_use_code_paid_once"):
        PeerTransfer.objects.create(
            sender=sender,
            recipient=shop,
            amount=D("9.00"),
            status=PeerTransfer.Status.UNDER_REVIEW,
            idempotency_key="b",
            request_fingerprint="-",
            receive_code=code,
            receive_code_single_use=True,
            guard_reference="-",
            hold_id=hold.pk,
            created_at=now,
        )
