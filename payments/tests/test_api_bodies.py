"""Hostile bodies and keys on every endpoint (the schema's operations, the notify URLs, the sandbox): a 400 that changes
nothing, never a 500, and one Idempotency-Key rule everywhere."""

import re

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from payments.channels import registry
from payments.channels.models import Channel
from payments.orders.models import PaymentEvent
from wallet.idempotency import HEADER, MAX_KEY_LENGTH
from wallet.models import Transfer

pytestmark = pytest.mark.django_db

DEEP = b"[" * 50_000
CONTENT_TYPES = ["application/json", "text/xml", "application/x-www-form-urlencoded"]
MERCHANT_ORDER = {"amount": "30.00", "subject": "A cup of tea", "business_order_no": "BO-1", "payer": "alice"}
MONEY_POSTS = [
    "/api/v1/transfers/",
    "/api/v1/withdrawals/",
    "/api/v1/recharges/",
    "/api/v1/payments/PM20261128000000000000001/pay/",
]


def _operations(*, where) -> list[tuple[str, str]]:
    """``(method, path)`` of each operation of the schema ``where(operation)`` selects, its path
    parameters filled with a placeholder."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "PM1", path))
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if where(operation)
    ]


def _caller(path, *, admin_user, refunder):
    """Someone the operation lets in, so that what answers is the body's or the key's check."""
    return refunder if path.startswith("/api/v1/merchant/") else admin_user


# The notify URL answers in its channel's protocol: its own test below, channel by channel.
BODY_OPERATIONS = [
    (method, path)
    for method, path in _operations(where=lambda operation: "requestBody" in operation)
    if not path.startswith("/api/v1/notify/")
]
KEYED_OPERATIONS = _operations(
    where=lambda operation: any(parameter["name"] == HEADER for parameter in operation.get("parameters", []))
)


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize("body", [DEEP, b'{"amount": ' + b"[" * 40 + b"]" * 40 + b"}"], ids=["50000-deep", "40-deep"])
def test_every_operation_with_a_body_refuses_deep_json(admin_user, refunder, api_client_for, method, path, body):
    client = api_client_for(_caller(path, admin_user=admin_user, refunder=refunder))
    before = Transfer.objects.count()

    response = client.generic(method, path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1")

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


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_deeply_nested_notify_is_refused_on_every_channel_and_changes_nothing(content_type):
    answers = {
        channel.code: Client()
        .generic("POST", f"/api/v1/notify/{channel.code}/", DEEP, content_type=content_type)
        .status_code
        for channel in Channel.objects.all()
    }

    routed = {channel.code for channel in Channel.objects.all() if registry.is_reachable(channel)}
    assert routed
    assert answers == {code: 400 if code in routed else 404 for code in answers}
    assert not PaymentEvent.objects.filter(outcome=PaymentEvent.Outcome.APPLIED).exists()


def _sandbox_paths(patterns, prefix: str = "") -> list[str]:
    paths = []
    for pattern in patterns:
        route = prefix + re.sub(r"<[^>]+>", "PM1", str(pattern.pattern)).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            paths += _sandbox_paths(pattern.url_patterns, route)
        elif route.startswith("sandbox/"):
            paths.append("/" + route)
    return paths


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_sandbox_endpoint_answers_a_deep_body_in_its_protocol_without_a_server_error(content_type):
    paths = _sandbox_paths(get_resolver().url_patterns)

    answers = {path: Client().generic("POST", path, DEEP, content_type=content_type).status_code for path in paths}

    assert len(paths) > 10
    assert all(status < 500 for status in answers.values()), answers


@pytest.mark.parametrize(("method", "path"), KEYED_OPERATIONS)
@pytest.mark.parametrize(("length", "refused"), [(MAX_KEY_LENGTH, False), (MAX_KEY_LENGTH + 1, True)])
def test_an_idempotency_key_over_the_one_maximum_is_refused_on_every_operation_that_takes_one(
    admin_user, refunder, api_client_for, method, path, length, refused
):
    client = api_client_for(_caller(path, admin_user=admin_user, refunder=refunder))

    response = client.generic(method, path, b"{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k" * length)

    fields = response.json()["error"].get("fields") or {}
    assert (response.status_code, HEADER in fields) == ((400, True) if refused else (response.status_code, False))


@pytest.mark.parametrize(("length", "refused"), [(MAX_KEY_LENGTH, False), (MAX_KEY_LENGTH + 1, True)])
def test_a_reward_token_follows_the_same_maximum(admin_user, api_client_for, length, refused):
    body = {"campaign": "no-such-campaign", "user": admin_user.username, "amount": "1.00", "token": "t" * length}

    response = api_client_for(admin_user).post("/api/v1/campaign/rewards/", body, format="json")

    assert response.status_code == 400
    assert ("token" in response.json()["error"]["fields"]) is refused


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
