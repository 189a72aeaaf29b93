"""Wallet API over HTTP: balance, statement, transfers, the error envelope, idempotency."""

import threading
from decimal import Decimal

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conftest import PAYMENT_PASSWORD
from wallet import services
from wallet.audit import ledger_audit
from wallet.models import PeerTransfer, Transfer
from wallet.payment_password.services import payment_token_issue

pytestmark = pytest.mark.django_db

D = Decimal


def send(client, body, key="key-1"):
    return client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_wallet_shows_balance_available_and_frozen_as_strings(alice, funded_account, api_client_for):
    account = funded_account(alice, "120.00")
    services.hold_place(idempotency_key="h", account=account, amount=D("20.50"))

    response = api_client_for(alice).get("/api/v1/wallet/")

    assert response.status_code == 200
    assert response.json() == {
        "currency": "CNY",
        "balance": "120.00",
        "available": "99.50",
        "frozen": "20.50",
        "status": "active",
    }


def test_a_new_user_sees_an_empty_wallet_and_reading_creates_nothing(alice, api_client_for):
    response = api_client_for(alice).get("/api/v1/wallet/")

    assert response.json()["balance"] == "0.00"
    assert not alice.accounts.exists()


def test_the_statement_is_newest_first_with_running_balances_and_cursor_pages(
    alice, bob, funded_account, api_client_for
):
    funded_account(alice, "100.00")
    services.account_for_user(user=bob)
    client = api_client_for(alice)
    for i in range(5):
        assert send(client, {"to": "bob", "amount": "1.00"}, key=f"k{i}").status_code == 201

    first = client.get("/api/v1/wallet/entries/?page_size=4").json()
    second = client.get(first["next"]).json()

    rows = first["results"] + second["results"]
    assert [r["balance_after"] for r in rows] == ["95.00", "96.00", "97.00", "98.00", "99.00", "100.00"]
    assert [r["amount"] for r in rows] == ["-1.00"] * 5 + ["100.00"]
    assert rows[0]["kind"] == "p2p" and rows[-1]["kind"] == "recharge"
    assert second["next"] is None and len(first["results"]) == 4


def test_a_transfer_moves_money_and_answers_201(alice, bob, funded_account, api_client_for):
    funded_account(alice, "50.00")

    response = send(api_client_for(alice), {"to": "bob", "amount": "12.34", "memo": "dinner"})

    assert response.status_code == 201
    body = response.json()
    assert (body["to"], body["amount"], body["memo"]) == ("bob", "12.34", "dinner")
    assert api_client_for(bob).get("/api/v1/wallet/").json()["balance"] == "12.34"
    assert api_client_for(alice).get("/api/v1/wallet/").json()["balance"] == "37.66"


def test_the_same_key_and_body_replays_the_first_response_and_moves_money_once(
    alice, bob, funded_account, api_client_for
):
    funded_account(alice, "50.00")
    client = api_client_for(alice)

    first = send(client, {"to": "bob", "amount": "10.00"})
    second = send(client, {"to": "bob", "amount": "10.00"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Transfer.objects.filter(kind="p2p").count() == 1
    assert client.get("/api/v1/wallet/").json()["balance"] == "40.00"


def test_the_same_key_with_another_body_is_a_409_conflict(alice, bob, funded_account, api_client_for):
    funded_account(alice, "50.00")
    client = api_client_for(alice)
    send(client, {"to": "bob", "amount": "10.00"})

    response = send(client, {"to": "bob", "amount": "11.00"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert client.get("/api/v1/wallet/").json()["balance"] == "40.00"


def test_keys_are_per_user(alice, bob, funded_account, api_client_for):
    funded_account(alice, "50.00")
    funded_account(bob, "50.00")

    assert send(api_client_for(alice), {"to": "bob", "amount": "1.00"}, key="shared").status_code == 201
    assert send(api_client_for(bob), {"to": "alice", "amount": "2.00"}, key="shared").status_code == 201

    assert Transfer.objects.filter(kind="p2p").count() == 2


@pytest.mark.parametrize(
    "amount",
    ["1.001", "NaN", "-1", "0", "1e3", "1" + "0" * 20, "abc", "", "Infinity", "0.00", " ", 1.5, None, True],
)
def test_bad_amounts_get_a_400_field_error_and_write_nothing(alice, bob, funded_account, api_client_for, amount):
    funded_account(alice, "50.00")
    transfers_before = Transfer.objects.count()

    response = send(api_client_for(alice), {"to": "bob", "amount": amount})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "amount" in error["fields"]
    assert Transfer.objects.count() == transfers_before


def test_an_amount_above_the_balance_is_422_insufficient_funds_and_writes_nothing(
    alice, bob, funded_account, api_client_for
):
    funded_account(alice, "5.00")

    response = send(api_client_for(alice), {"to": "bob", "amount": "5.01"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert not Transfer.objects.filter(kind="p2p").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "nobody", "amount": "1.00"}, "to"),
        ({"to": "alice", "amount": "1.00"}, "to"),
        ({"amount": "1.00"}, "to"),
        ({"to": "bob"}, "amount"),
    ],
)
def test_bad_recipients_and_missing_fields_are_field_errors(alice, bob, funded_account, api_client_for, body, field):
    funded_account(alice, "5.00")

    response = send(api_client_for(alice), body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Transfer.objects.filter(kind="p2p").exists()


def test_a_money_moving_post_without_an_idempotency_key_is_refused(alice, bob, funded_account, api_client_for):
    funded_account(alice, "5.00")

    response = api_client_for(alice).post("/api/v1/transfers/", {"to": "bob", "amount": "1.00"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": "required"}
    assert not Transfer.objects.filter(kind="p2p").exists()


@pytest.mark.parametrize("path", ["/api/v1/wallet/", "/api/v1/wallet/entries/", "/api/v1/transfers/1/"])
@pytest.mark.parametrize("authorization", [None, "Token not-a-real-token"])
def test_requests_without_a_valid_token_get_401_in_the_envelope(path, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get(path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_unauthenticated_transfer_writes_nothing(alice, funded_account):
    funded_account(alice, "5.00")

    response = APIClient().post("/api/v1/transfers/", {"to": "alice", "amount": "1.00"}, format="json")

    assert response.status_code == 401
    assert Transfer.objects.count() == 1


def test_another_users_transfer_is_404_and_your_own_shows_only_your_legs(
    alice, bob, make_user, funded_account, api_client_for
):
    funded_account(alice, "50.00")
    transfer_id = send(api_client_for(alice), {"to": "bob", "amount": "3.00"}).json()["id"]
    mallory = make_user("mallory")

    stranger = api_client_for(mallory).get(f"/api/v1/transfers/{transfer_id}/")
    own = api_client_for(bob).get(f"/api/v1/transfers/{transfer_id}/")

    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "not_found"
    assert own.status_code == 200
    assert own.json()["entries"] == [{"account": "wallet", "amount": "3.00"}]


def test_a_statement_never_shows_another_users_entries(alice, bob, funded_account, api_client_for):
    funded_account(alice, "50.00")

    response = api_client_for(bob).get("/api/v1/wallet/entries/")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_move_money_once(alice, bob, funded_account, api_client_for):
    funded_account(alice, "100.00")
    token_client = api_client_for(alice)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def post() -> None:
        client = APIClient()
        client.credentials(**token_client._credentials)
        barrier.wait(10)
        statuses.append(send(client, {"to": "bob", "amount": "9.00"}, key="race").status_code)
        connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert statuses == [201] * 8
    assert Transfer.objects.filter(kind="p2p").count() == 1
    assert PeerTransfer.objects.filter(idempotency_key="race").count() == 1
    assert token_client.get("/api/v1/wallet/").json()["balance"] == "91.00"
    assert ledger_audit() == []


def test_the_openapi_schema_and_docs_are_served(alice, api_client_for):
    schema = APIClient().get("/api/schema/")
    docs = APIClient().get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/transfers/" in schema.content and b"Idempotency-Key" in schema.content
    assert docs.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/transfers/not-a-number/", "/api/v1/nowhere/", "/api/v1/notify/%C2%84/"])
def test_an_api_url_no_route_matches_is_a_404_in_the_envelope(alice, api_client_for, path):
    response = api_client_for(alice).get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_a_url_outside_the_api_keeps_djangos_404_page(client):
    response = client.get("/nowhere/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("page_size", ["0", "-1", "two", "1.5", "", "１"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(alice, api_client_for, page_size):
    response = api_client_for(alice).get("/api/v1/wallet/entries/", {"page_size": page_size})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"page_size": "invalid"}


def test_a_page_size_above_the_largest_gets_the_largest_page(alice, funded_account, api_client_for):
    for _ in range(3):
        funded_account(alice, "1.00")
    client = api_client_for(alice)

    assert len(client.get("/api/v1/wallet/entries/", {"page_size": "2"}).json()["results"]) == 2
    assert len(client.get("/api/v1/wallet/entries/", {"page_size": "100000"}).json()["results"]) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "bob", "amount": "1.00", "memo": 5}, "memo"),
        ({"to": 5, "amount": "1.00"}, "to"),
        ({"to": "bob", "amount": "1.00", "memo": " " * 250 + "dinner"}, "memo"),
    ],
)
def test_text_fields_take_strings_of_at_most_their_length_as_sent(
    alice, bob, funded_account, api_client_for, body, field
):
    funded_account(alice, "10.00")

    response = send(api_client_for(alice), body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Transfer.objects.filter(kind="p2p").exists()


# Queries per request on the hot paths (docs/PERFORMANCE.md, "HTTP under load"): each one is a
# round trip under load, so a new one on these paths should be a decision, not an accident.


def token_client_for(user) -> APIClient:
    """An API client that pays with a single-use payment token, as a busy client does."""
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}",
        HTTP_PAYMENT_TOKEN=payment_token_issue(user=user, password=PAYMENT_PASSWORD).token,
    )
    return client


def test_a_wallet_read_takes_two_queries(alice, funded_account, api_client_for, django_assert_num_queries):
    funded_account(alice, "10.00")
    client = api_client_for(alice)

    with django_assert_num_queries(2):  # the API token with its user; the wallet
        response = client.get("/api/v1/wallet/")

    assert response.status_code == 200


def test_a_transfer_paid_with_a_token_takes_at_most_26_queries(
    alice, bob, funded_account, django_assert_max_num_queries
):
    funded_account(alice, "10.00")
    services.account_for_user(user=bob)
    client = token_client_for(alice)

    with django_assert_max_num_queries(26):
        response = send(client, {"to": "bob", "amount": "1.00"})

    assert response.status_code == 201, response.json()
    assert [leg["amount"] for leg in response.json()["entries"]] == ["-1.00"]
