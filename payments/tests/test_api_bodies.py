"""Hostile bodies and keys on the public and the money-moving endpoints: a 400 that changes
nothing, never a 500, and one Idempotency-Key rule everywhere."""

import pytest
from django.test import Client

from payments.orders.models import PaymentEvent
from wallet.models import Transfer

pytestmark = pytest.mark.django_db

DEEP = b"[" * 50_000
MERCHANT_ORDER = {"amount": "30.00", "subject": "A cup of tea", "business_order_no": "BO-1", "payer": "alice"}
MONEY_POSTS = [
    "/api/v1/transfers/",
    "/api/v1/withdrawals/",
    "/api/v1/recharges/",
    "/api/v1/payments/PM20261128000000000000001/pay/",
]


@pytest.mark.parametrize("url", MONEY_POSTS)
@pytest.mark.parametrize("body", [DEEP, b'{"amount": ' + b"[" * 40 + b"]" * 40 + b"}"], ids=["50000-deep", "40-deep"])
def test_a_deeply_nested_body_is_a_validation_error(alice, funded_account, api_client_for, url, body):
    funded_account(alice, "100.00")
    before = Transfer.objects.count()

    response = api_client_for(alice).generic(
        "POST", url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "nested deeper than 32 levels" in error["message"]
    assert Transfer.objects.count() == before


@pytest.mark.parametrize("url", MONEY_POSTS)
def test_a_body_over_the_upload_limit_is_a_validation_error(alice, api_client_for, settings, url):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"memo": "' + b"x" * 2000 + b'"}'

    response = api_client_for(alice).generic(
        "POST", url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1"
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is larger than 1000 bytes."


@pytest.mark.parametrize("channel", ["bank", "wechat_pay", "alipay"])
def test_a_deeply_nested_notify_is_refused_and_changes_nothing(channel):
    response = Client().generic("POST", f"/api/v1/notify/{channel}/", DEEP, content_type="application/json")

    assert 400 <= response.status_code < 500
    assert not PaymentEvent.objects.filter(outcome="applied").exists()


@pytest.mark.parametrize(("length", "status"), [(255, 201), (256, 400)])
def test_one_idempotency_key_length_rule_on_every_money_post(
    alice, bob, refunder, funded_account, card_account, api_client_for, length, status
):
    funded_account(alice, "1000.00")
    client, shop = api_client_for(alice), api_client_for(refunder)
    key = "k" * length
    ordered = shop.post("/api/v1/merchant/payments/", MERCHANT_ORDER, format="json", HTTP_IDEMPOTENCY_KEY="p" * 255)
    paid = client.post(
        f"/api/v1/payments/{ordered.json()['order_no']}/pay/",
        {"method": "balance", "client_type": "app"},
        format="json",
    ).json()

    replies = {
        "transfers": client.post(
            "/api/v1/transfers/", {"to": "bob", "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY=key
        ),
        "withdrawals": client.post(
            "/api/v1/withdrawals/",
            {"payout_account": card_account(alice).pk, "amount": "100.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        ),
        "merchant payments": shop.post(
            "/api/v1/merchant/payments/",
            MERCHANT_ORDER | {"business_order_no": "BO-2"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        ),
        "refunds": shop.post(
            f"/api/v1/merchant/payments/{paid['order_no']}/refunds/",
            {"amount": "1.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        ),
    }

    assert {name: reply.status_code for name, reply in replies.items()} == dict.fromkeys(replies, status)
    if status == 400:
        assert {reply.json()["error"]["fields"]["Idempotency-Key"] for reply in replies.values()} == {"required"}


def test_the_schema_states_the_idempotency_key_rule_on_every_money_post(api_client_for, alice):
    schema = api_client_for(alice).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    keys = [
        parameter["schema"]
        for path in schema["paths"].values()
        for operation in path.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "Idempotency-Key"
    ]
    assert len(keys) >= 5
    assert all(
        key == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"} for key in keys
    )
