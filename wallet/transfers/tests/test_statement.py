"""Both statements name the counterparty, in a fixed number of queries (docs/WALLET.md)."""

from decimal import Decimal

import pytest

from wallet import services as ledger

pytestmark = pytest.mark.django_db

D = Decimal
ENTRIES = "/api/v1/wallet/entries/"


def test_both_statements_show_the_other_user_and_a_stable_kind(sender, recipient, send, api_client_for):
    transfer = send(sender, recipient, "8.00")

    [received] = api_client_for(recipient).get(ENTRIES).json()["results"]
    sent = api_client_for(sender).get(ENTRIES).json()["results"][0]

    assert (received["kind"], received["counterparty"], received["amount"]) == ("p2p", "sender", "8.00")
    assert (sent["kind"], sent["counterparty"], sent["amount"]) == ("p2p", "recipient", "-8.00")
    assert (received["description"], sent["description"]) == ("Transfer from sender", "Transfer to recipient")
    assert received["reference"] == sent["reference"] == f"p2p:{transfer.pk}"


def test_an_entry_with_no_order_behind_it_shows_its_kind_and_no_system_account(sender, api_client_for):
    # The sender was funded by a bare ledger transfer from clearing:test, no order behind it.
    [funding] = api_client_for(sender).get(ENTRIES).json()["results"]

    assert (funding["kind"], funding["counterparty"]) == ("recharge", None)
    assert funding["description"] == "Recharge"


def test_no_line_names_an_internal_account_or_id(sender, recipient, send, api_client_for):
    send(sender, recipient, "8.00")
    ledger.hold_capture(
        hold=ledger.hold_place(idempotency_key="w", account=ledger.account_for_user(user=sender), amount=D("1.00")),
        destinations=[ledger.Leg(ledger.account_for_system(code="clearing:wechat"), D("1.00"))],
        kind="withdrawal",
    )

    page = api_client_for(sender).get(ENTRIES).json()["results"]

    shown = " ".join(f"{row['counterparty']} {row['description']}" for row in page)
    assert "clearing:" not in shown and "user:" not in shown
    assert str(sender.pk) not in shown.replace("sender", "")


@pytest.mark.parametrize("rows", [1, 15])
def test_the_statement_costs_the_same_queries_whatever_the_rows(
    sender, make_user, send, api_client_for, django_assert_num_queries, rows
):
    for i in range(rows):
        send(sender, make_user(f"friend{i}"), "1.00")
    client = api_client_for(sender)

    # token auth, the account, the page with its counterparties
    with django_assert_num_queries(3):
        page = client.get(ENTRIES).json()["results"]

    assert len(page) == rows + 1
    assert {row["counterparty"] for row in page[:-1]} == {f"friend{i}" for i in range(rows)}


def test_the_transfer_detail_names_the_counterparty_from_each_side(sender, recipient, send, api_client_for):
    transfer = send(sender, recipient, "3.00", memo="lunch")

    mine = api_client_for(sender).get(f"/api/v1/transfers/{transfer.pk}/").json()
    theirs = api_client_for(recipient).get(f"/api/v1/transfers/{transfer.pk}/").json()

    assert (mine["direction"], mine["counterparty"], mine["kind"], mine["memo"]) == (
        "sent",
        "recipient",
        "p2p",
        "lunch",
    )
    assert (theirs["direction"], theirs["counterparty"]) == ("received", "sender")
    assert theirs["entries"] == [{"account": "wallet", "amount": "3.00"}]
