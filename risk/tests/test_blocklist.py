"""Blocklisted users and payout accounts are refused; entries are removed, never deleted."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from risk import services
from risk.models import BlocklistEntry
from risk.tests.support import FINGERPRINT, hit_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    return make_user("officer", is_staff=True)


def block_account(officer, fingerprint: str = FINGERPRINT) -> BlocklistEntry:
    return services.blocklist_add(
        kind="payout_account", fingerprint=fingerprint, label="ICBC ****1234", reason="fraud report", actor=officer
    )


def test_a_blocklisted_user_is_refused_as_risk_rejected(evaluate, make_user, officer):
    user = make_user()
    services.blocklist_add(kind="user", user=user, label=user.username, reason="chargebacks", actor=officer)

    evaluation = evaluate(user=user)

    assert (evaluation.outcome, evaluation.refusal_code) == ("reject", "risk_rejected")
    assert evaluation.refusal_message == "Withdrawals are not possible for this account. Please contact support."
    assert [(hit["rule"], hit["observed"]) for hit in evaluation.hits] == [("user_blocked", f"blocklisted: {user}")]


def test_a_blocklisted_payout_account_is_refused_and_other_accounts_are_not(evaluate, make_user, officer):
    user = make_user()
    block_account(officer)

    to_blocked = evaluate(user=user)
    to_other = evaluate(user=user, fingerprint="b" * 64)

    assert (to_blocked.outcome, to_blocked.refusal_code) == ("reject", "risk_rejected")
    assert [(hit["rule"], hit["observed"]) for hit in to_blocked.hits] == [
        ("payout_account_blocked", "blocklisted: ICBC ****1234")
    ]
    assert to_other.outcome == "allow"


def test_another_users_blocklist_entry_does_not_refuse_this_user(evaluate, make_user, officer):
    other = make_user()
    services.blocklist_add(kind="user", user=other, label=other.username, reason="fraud", actor=officer)

    assert evaluate(user=make_user()).outcome == "allow"


def test_removed_entries_no_longer_refuse(evaluate, make_user, officer):
    user = make_user()
    user_entry = services.blocklist_add(kind="user", user=user, label=user.username, reason="mistake", actor=officer)
    account_entry = block_account(officer)
    assert "user_blocked" in hit_codes(evaluate(user=user))

    services.blocklist_remove(entry=user_entry, actor=officer)
    services.blocklist_remove(entry=account_entry, actor=officer)

    assert evaluate(user=user).outcome == "allow"


def test_adding_an_entry_records_who_and_when(make_user, officer):
    user = make_user()

    entry = services.blocklist_add(kind="user", user=user, label=user.username, reason="chargebacks", actor=officer)

    entry.refresh_from_db()
    assert (entry.kind, entry.user, entry.fingerprint, entry.active) == ("user", user, "", True)
    assert (entry.created_by, entry.reason) == (officer, "chargebacks")
    assert entry.created_at is not None
    assert (entry.removed_by, entry.removed_at) == (None, None)


def test_removing_an_entry_keeps_it_and_records_who_removed_it_when(officer, make_user):
    entry = block_account(officer)
    supervisor = make_user(is_staff=True)

    removed = services.blocklist_remove(entry=entry, actor=supervisor)

    entry.refresh_from_db()
    assert (entry.active, entry.removed_by, entry.removed_at) == (False, supervisor, removed.removed_at)
    assert entry.removed_at is not None
    assert entry.created_by == officer


def test_removing_an_entry_twice_keeps_the_first_removal(officer, make_user):
    entry = block_account(officer)
    first = services.blocklist_remove(entry=entry, actor=officer)

    second = services.blocklist_remove(entry=entry, actor=make_user(is_staff=True))

    assert (second.removed_by, second.removed_at) == (officer, first.removed_at)


def test_adding_what_is_already_blocked_returns_the_active_entry(make_user, officer):
    user = make_user()
    first_user = services.blocklist_add(kind="user", user=user, label=user.username, reason="one", actor=officer)
    first_account = block_account(officer)

    again_user = services.blocklist_add(kind="user", user=user, label=user.username, reason="two", actor=officer)
    again_account = block_account(officer)

    assert (again_user.pk, again_account.pk) == (first_user.pk, first_account.pk)
    assert again_user.reason == "one"
    assert BlocklistEntry.objects.count() == 2


def test_blocking_again_after_a_removal_adds_a_new_entry_and_keeps_the_old_one(officer):
    old = block_account(officer)
    services.blocklist_remove(entry=old, actor=officer)

    new = block_account(officer)

    assert new.pk != old.pk and new.active
    assert list(BlocklistEntry.objects.order_by("pk").values_list("active", flat=True)) == [False, True]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"kind": "user", "label": "nobody"}, "user"),
        ({"kind": "payout_account", "label": "ICBC ****1234"}, "fingerprint"),
        ({"kind": "payout_account", "fingerprint": FINGERPRINT, "label": "6222 0212 3456 7890"}, "label"),
        ({"kind": "payout_account", "fingerprint": FINGERPRINT, "label": "6222021234567890123"}, "label"),
        ({"kind": "payout_account", "fingerprint": FINGERPRINT, "label": "ICBC ****1234", "reason": ""}, "reason"),
        ({"kind": "phone", "fingerprint": FINGERPRINT, "label": "x"}, "kind"),
    ],
    ids=["user-without-user", "account-without-fingerprint", "spaced-card", "card", "no-reason", "unknown-kind"],
)
def test_an_entry_that_does_not_name_its_target_or_shows_a_card_number_is_refused(officer, arguments, field):
    with pytest.raises(ValidationError) as refused:
        services.blocklist_add(**{"reason": "fraud", **arguments}, actor=officer)

    assert field in refused.value.message_dict
    assert not BlocklistEntry.objects.exists()


def test_a_user_entry_that_also_names_a_payout_account_is_refused(make_user, officer):
    user = make_user()

    with pytest.raises(ValidationError):
        services.blocklist_add(
            kind="user", user=user, fingerprint=FINGERPRINT, label=user.username, reason="fraud", actor=officer
        )


def execute(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_deleting_entries_and_editing_removed_ones_or_what_they_block(officer):
    entry = block_account(officer)

    with pytest.raises(DatabaseError, match="Cannot"):
        execute("DELETE FROM risk_blocklistentry WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="Cannot"):
        execute("UPDATE risk_blocklistentry SET fingerprint = %s WHERE id = %s", ["c" * 64, entry.pk])
    services.blocklist_remove(entry=entry, actor=officer)
    with pytest.raises(DatabaseError, match="Cannot"):
        execute("UPDATE risk_blocklistentry SET active = true, removed_at = NULL WHERE id = %s", [entry.pk])

    entry.refresh_from_db()
    assert (entry.fingerprint, entry.active) == (FINGERPRINT, False)


def test_the_database_allows_one_active_entry_per_target(make_user, officer):
    user = make_user()
    services.blocklist_add(kind="user", user=user, label=user.username, reason="fraud", actor=officer)
    block_account(officer)

    with pytest.raises(IntegrityError, match="blocklist_one_active_user"), transaction.atomic():
        BlocklistEntry.objects.create(kind="user", user=user, label="again", reason="x", created_by=officer)
    with pytest.raises(IntegrityError, match="blocklist_one_active_payout_account"), transaction.atomic():
        BlocklistEntry.objects.create(
            kind="payout_account", fingerprint=FINGERPRINT, label="again", reason="x", created_by=officer
        )


def test_the_database_refuses_an_entry_whose_target_does_not_match_its_kind(make_user, officer):
    with pytest.raises(IntegrityError, match="blocklist_target_matches_kind"), transaction.atomic():
        BlocklistEntry.objects.create(
            kind="user", user=make_user(), fingerprint=FINGERPRINT, label="x", reason="x", created_by=officer
        )
    with pytest.raises(IntegrityError, match="blocklist_target_matches_kind"), transaction.atomic():
        BlocklistEntry.objects.create(kind="payout_account", label="x", reason="x", created_by=officer)


@pytest.mark.django_db(transaction=True)
def test_staff_blocking_the_same_account_at_the_same_moment_get_one_entry(officer):
    barrier = threading.Barrier(8)
    entry_ids: list[int] = []

    def add() -> None:
        try:
            barrier.wait(30)
            entry_ids.append(block_account(officer).pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(entry_ids) == 8
    assert set(entry_ids) == set(BlocklistEntry.objects.values_list("pk", flat=True))
    assert len(set(entry_ids)) == 1
