"""The incremental ledger audit: reads what is new since its checkpoint, finds what the full
audit finds there, and never moves the checkpoint past an entry that may still commit."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from wallet import services
from wallet.audit import ledger_audit, ledger_audit_run
from wallet.models import AuditCheckpoint, AuditedBalance, Entry
from wallet.selectors import account_balance
from wallet.services import Leg

D = Decimal


@pytest.fixture
def ledger(make_user, funded_account):
    alice = funded_account(make_user("alice"), "100.00")
    bob = services.account_for_user(user=make_user("bob"))
    services.transfer_post(idempotency_key="p1", kind="p2p", legs=[Leg(alice, D("-10.00")), Leg(bob, D("10.00"))])
    return {"alice": alice, "bob": bob}


def pay(ledger, key: str, amount: str) -> None:
    services.transfer_post(
        idempotency_key=key, kind="p2p", legs=[Leg(ledger["alice"], D(f"-{amount}")), Leg(ledger["bob"], D(amount))]
    )


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def forge_unbalanced_transfer(key: str, account_id: int) -> None:
    """One entry of 3.00 and nothing against it, triggers bypassed as a restore or a superuser could."""
    sql("SET session_replication_role = replica")
    try:
        sql(
            "INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at) "
            "VALUES (%s, '', 'forged', '', '', now())",
            [key],
        )
        sql(
            "INSERT INTO wallet_entry (transfer_id, account_id, amount, created_at) "
            "SELECT id, %s, 3.00, now() FROM wallet_transfer WHERE idempotency_key = %s",
            [account_id, key],
        )
    finally:
        sql("SET session_replication_role = origin")


@pytest.mark.django_db
def test_on_a_clean_ledger_each_run_checkpoints_at_the_last_entry_and_sums_like_the_full_audit(ledger):
    first = ledger_audit_run(full=False)  # no checkpoint yet: reads everything
    pay(ledger, "p2", "4.00")

    second = ledger_audit_run(full=False)

    last_entry = Entry.objects.latest("id")
    assert (first.full, first.violations, second.full, second.violations) == (True, [], False, [])
    assert second.checked_after == first.checkpoint
    assert second.checkpoint == AuditCheckpoint.objects.latest("id").entry_id == last_entry.pk
    assert AuditedBalance.objects.get(account=ledger["bob"]).total == D("14.00")
    assert ledger_audit() == []


@pytest.mark.django_db
def test_an_unbalanced_transfer_after_the_checkpoint_is_found_as_by_the_full_audit(ledger):
    checkpoint = ledger_audit_run(full=True).checkpoint
    forge_unbalanced_transfer("forged", ledger["bob"].pk)

    run = ledger_audit_run(full=False)

    assert not run.full
    assert {(v.check, v.subject) for v in run.violations} == {(v.check, v.subject) for v in ledger_audit()}
    assert {v.check for v in run.violations} == {"transfer_zero_sum", "balance_equals_entries"}
    assert run.checkpoint is None and AuditCheckpoint.objects.latest("id").entry_id == checkpoint  # found again


@pytest.mark.django_db
def test_a_balance_changed_without_an_entry_is_found_against_the_audited_sum(ledger):
    ledger_audit_run(full=True)
    pay(ledger, "p2", "1.00")
    sql("UPDATE wallet_account SET balance = balance + 1 WHERE id = %s", [ledger["bob"].pk])

    run = ledger_audit_run(full=False)

    assert [str(v) for v in run.violations] == [
        f"[balance_equals_entries] {ledger['bob'].code}: account {ledger['bob'].code}: balance 12.00 but its "
        "entries sum to 11.00"
    ]


@pytest.mark.django_db(transaction=True)
def test_an_entry_committed_after_a_later_one_is_not_skipped(ledger):
    # given a transaction that took the lower ids and is still open while a later posting commits
    written, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                forge_unbalanced_transfer("slow", ledger["alice"].pk)
                written.set()
                release.wait(30)
        finally:
            connection.close()

    ledger_audit_run(full=True)
    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert written.wait(30)
    pay(ledger, "later", "2.00")

    # when the audit runs before it commits, it waits for it, then keeps its checkpoint
    held = ledger_audit_run(full=False, settle_seconds=0.2)
    release.set()
    writer.join(30)
    after_commit = ledger_audit_run(full=False)

    assert held.violations == [] and held.checkpoint is None and held.waited_for
    assert "transfer_zero_sum" in {v.check for v in after_commit.violations}


@pytest.mark.django_db
def test_a_hot_balance_is_the_sum_of_its_entries_before_and_after_a_checkpoint(ledger):
    clearing = services.account_for_system(code="clearing:test")
    every_entry = lambda: sum(Entry.objects.filter(account=clearing).values_list("amount", flat=True))  # noqa: E731
    before = account_balance(account=clearing)
    ledger_audit_run(full=True)
    at_checkpoint = account_balance(account=clearing)
    legs = [Leg(ledger["bob"], D("-2.50")), Leg(clearing, D("2.50"))]
    services.transfer_post(idempotency_key="to-clearing", kind="withdrawal", legs=legs)

    after = account_balance(account=clearing)

    assert before == at_checkpoint == D("-100.00")
    assert after == every_entry() == D("-97.50")
