"""Hostile bodies on the public and the money-moving endpoints: a 400 that changes nothing,
never a 500."""

import pytest
from django.test import Client

from payments.models import PaymentEvent
from wallet.models import Transfer

pytestmark = pytest.mark.django_db

DEEP = b"[" * 50_000
MONEY_POSTS = ["/api/v1/transfers/", "/api/v1/withdrawals/", "/api/v1/recharges/", "/api/v1/payments/"]


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
