"""``ledger_audit`` finds each kind of broken invariant and names it."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from wallet import services
from wallet.audit import ledger_audit
from wallet.services import Leg

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def ledger(make_user, funded_account):
    alice = funded_account(make_user("alice"), "100.00")
    bob = services.account_for_user(user=make_user("bob"))
    services.transfer_post(idempotency_key="p", kind="p2p", legs=[Leg(alice, D("-10.00")), Leg(bob, D("10.00"))])
    services.hold_place(idempotency_key="h", account=alice, amount=D("5.00"))
    return {"alice": alice, "bob": bob}


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def run_command() -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("ledger_audit", stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_a_sound_ledger_is_reported_clean(ledger):
    output, error = run_command()

    assert error is None
    assert "ledger audit clean" in output


def test_a_balance_that_disagrees_with_its_entries_is_named(ledger):
    sql("UPDATE wallet_account SET balance = balance + 1 WHERE id = %s", [ledger["bob"].pk])

    output, error = run_command()

    assert error == "ledger audit failed: 1 violation(s)"
    assert f"account {ledger['bob'].code}: balance 11.00 but its entries sum to 10.00" in output


def test_held_money_without_a_pending_hold_is_named(ledger):
    sql("UPDATE wallet_account SET held = held + 2 WHERE id = %s", [ledger["alice"].pk])

    violations = ledger_audit()

    assert [(v.check, v.subject) for v in violations] == [("held_equals_pending_holds", ledger["alice"].code)]


def test_an_unbalanced_transfer_slipped_past_the_triggers_is_named(ledger):
    # given triggers bypassed, as a restore or a superuser could
    sql("SET session_replication_role = replica")
    try:
        sql(
            "INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at) "
            "VALUES ('forged', '', 'forged', '', '', now())"
        )
        sql(
            "INSERT INTO wallet_entry (transfer_id, account_id, amount, created_at) "
            "SELECT id, %s, 3.00, now() FROM wallet_transfer WHERE idempotency_key = 'forged'",
            [ledger["bob"].pk],
        )
    finally:
        sql("SET session_replication_role = origin")

    checks = {v.check for v in ledger_audit()}

    assert checks == {"transfer_zero_sum", "balance_equals_entries"}


def test_a_negative_available_balance_is_named(ledger):
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # fire the pending zero-sum checks so the table can change
    sql("ALTER TABLE wallet_account DROP CONSTRAINT account_available_not_negative")
    sql("UPDATE wallet_account SET held = 95.00 WHERE id = %s", [ledger["alice"].pk])

    checks = {v.check for v in ledger_audit()}

    assert "available_not_negative" in checks
