"""The database itself refuses what would break the ledger, whatever the Python code does.

Transactional tests: the zero-sum trigger is deferred, so it fires at COMMIT.
"""

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from wallet import services
from wallet.models import Account, Entry, Hold, Transfer
from wallet.services import Leg

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


@pytest.fixture
def posted(make_user, funded_account):
    """A user account with 100.00 and one p2p transfer to a second user, and a pending hold."""
    alice = funded_account(make_user("alice"), "100.00")
    bob = services.account_for_user(user=make_user("bob"))
    transfer = services.transfer_post(
        idempotency_key="p", kind="p2p", legs=[Leg(alice, D("-10.00")), Leg(bob, D("10.00"))]
    )
    hold = services.hold_place(idempotency_key="h", account=alice, amount=D("5.00"))
    return {"alice": alice, "bob": bob, "transfer": transfer, "hold": hold}


def execute(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_an_unbalanced_transfer_inserted_by_raw_sql_is_refused_at_commit(posted):
    alice = posted["alice"]
    before = Transfer.objects.count()

    with pytest.raises(IntegrityError, match="do not sum to zero"):
        execute(
            """
            WITH t AS (INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at)
                       VALUES ('raw', '', 'raw', '', '', now()) RETURNING id)
            INSERT INTO wallet_entry (transfer_id, account_id, amount, created_at)
            SELECT t.id, %s, 5.00, now() FROM t
            """,
            [alice.pk],
        )

    assert Transfer.objects.count() == before


def test_an_extra_entry_added_to_an_existing_transfer_is_refused(posted):
    with pytest.raises(IntegrityError, match="do not sum to zero"):
        execute(
            "INSERT INTO wallet_entry (transfer_id, account_id, amount, created_at) VALUES (%s, %s, 1.00, now())",
            [posted["transfer"].pk, services.account_for_system(code="fees").pk],
        )


def test_raw_sql_that_drives_an_available_balance_negative_is_refused(posted):
    with pytest.raises(IntegrityError, match="account_available_not_negative"):
        execute("UPDATE wallet_account SET balance = 4.99 WHERE id = %s", [posted["alice"].pk])
    with pytest.raises(IntegrityError, match="account_available_not_negative"):
        execute("UPDATE wallet_account SET held = 91.00 WHERE id = %s", [posted["alice"].pk])
    with pytest.raises(IntegrityError, match="account_held_not_negative"):
        execute("UPDATE wallet_account SET held = -1 WHERE id = %s", [posted["alice"].pk])

    posted["alice"].refresh_from_db()
    assert (posted["alice"].balance, posted["alice"].held) == (D("90.00"), D("5.00"))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallet_entry SET amount = amount * 2 WHERE transfer_id = %s",
        "DELETE FROM wallet_entry WHERE transfer_id = %s",
        "UPDATE wallet_transfer SET memo = 'edited' WHERE id = %s",
        "DELETE FROM wallet_transfer WHERE id = %s",
    ],
)
def test_transfers_and_entries_cannot_be_updated_or_deleted(posted, sql):
    with pytest.raises(DatabaseError, match="Cannot"):
        execute(sql, [posted["transfer"].pk])

    assert Entry.objects.filter(transfer_id=posted["transfer"].pk).count() == 2
    assert Transfer.objects.get(pk=posted["transfer"].pk).memo == ""


def test_accounts_and_holds_cannot_be_deleted(posted):
    with pytest.raises(DatabaseError, match="Cannot"):
        execute("DELETE FROM wallet_hold WHERE id = %s", [posted["hold"].pk])
    with pytest.raises(DatabaseError):
        execute("DELETE FROM wallet_account WHERE id = %s", [posted["bob"].pk])

    assert Hold.objects.filter(pk=posted["hold"].pk).exists()
    assert Account.objects.filter(pk=posted["bob"].pk).exists()


def test_account_identity_and_settled_holds_are_read_only(posted):
    services.hold_release(hold=posted["hold"])

    with pytest.raises(DatabaseError, match="Cannot"):
        execute("UPDATE wallet_account SET code = 'stolen' WHERE id = %s", [posted["alice"].pk])
    with pytest.raises(DatabaseError, match="Cannot"):
        execute("UPDATE wallet_hold SET status = 'pending' WHERE id = %s", [posted["hold"].pk])
    with pytest.raises(DatabaseError, match="Cannot"):
        execute("UPDATE wallet_hold SET amount = 1 WHERE id = %s", [posted["hold"].pk])


def test_a_duplicate_idempotency_key_is_refused_by_a_unique_constraint(posted):
    with pytest.raises(IntegrityError, match="idempotency_key"):
        execute(
            "INSERT INTO wallet_transfer (idempotency_key, fingerprint, kind, memo, reference, created_at) "
            "VALUES ('p', '', 'raw', '', '', now())"
        )
