"""Every money-leaving POST asks for the payment password (docs/WALLET.md, "Payment password")."""

import pytest

from conftest import PAYMENT_PASSWORD

pytestmark = pytest.mark.django_db


def test_every_money_leaving_post_refuses_without_it(make_user, funded_account, api_client_for, card_account):
    sender = make_user("sender")
    funded_account(sender, "500.00")
    make_user("bob")
    account = card_account(sender)
    client = api_client_for(sender)
    client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"])
    posts = {
        "/api/v1/transfers/": {"to": "bob", "amount": "10.00"},
        "/api/v1/red-packets/": {"amount": "10.00", "count": 1, "mode": "equal", "recipient": "bob"},
        "/api/v1/withdrawals/": {"payout_account": account.pk, "amount": "50.00"},
    }

    refused = {path: client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1") for path, body in posts.items()}
    accepted = {
        path: client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2", HTTP_PAYMENT_PASSWORD=PAYMENT_PASSWORD)
        for path, body in posts.items()
    }

    assert {path: r.json()["error"]["code"] for path, r in refused.items()} == dict.fromkeys(
        posts, "payment_password_required"
    )
    assert {path: r.status_code for path, r in accepted.items()} == dict.fromkeys(posts, 201)
