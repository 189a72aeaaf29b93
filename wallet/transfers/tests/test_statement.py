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
    assert received["reference"] == sent["reference"] == f"p2p:{transfer.pk}"


def test_other_entries_name_the_system_side(sender, api_client_for):
    # The sender was funded from clearing:test (a channel's clearing account).
    [funding] = api_client_for(sender).get(ENTRIES).json()["results"]

    assert (funding["kind"], funding["counterparty"]) == ("recharge", "clearing:test")


def test_a_withdrawal_capture_names_the_channel_not_the_fee(sender, api_client_for):
    account = ledger.account_for_user(user=sender)
    hold = ledger.hold_place(idempotency_key="w", account=account, amount=D("100.00"))
    ledger.hold_capture(
        hold=hold,
        destinations=[
            ledger.Leg(ledger.account_for_system(code="clearing:wechat"), D("99.00")),
            ledger.Leg(ledger.account_for_system(code="fees"), D("1.00")),
        ],
        kind="withdrawal",
    )

    newest = api_client_for(sender).get(ENTRIES).json()["results"][0]

    assert (newest["kind"], newest["counterparty"], newest["amount"]) == ("withdrawal", "clearing:wechat", "-100.00")


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
    assert theirs["entries"] == [{"account": f"user:{recipient.pk}:CNY", "amount": "3.00"}]
