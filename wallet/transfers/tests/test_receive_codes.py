"""Receive codes over the API: creating, listing, revoking and paying them (docs/WALLET.md)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from risk.tests.support import set_rule
from wallet.models import PeerTransfer, ReceiveCode
from wallet.selectors import wallet_summary
from wallet.transfers import codes

pytestmark = pytest.mark.django_db

D = Decimal
CODES = "/api/v1/receive-codes/"


@pytest.fixture
def shop(make_user):
    return make_user("shop")


@pytest.fixture
def create_code(shop, api_client_for):
    def create(**body):
        response = api_client_for(shop).post(CODES, {"single_use": True, **body}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return create


def pay(client, token, amount=None, key="pay-1", **extra):
    body = {"receive_code": token, **extra}
    if amount is not None:
        body["amount"] = amount
    return client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_fixed_code_has_a_signed_token_a_qr_and_lives_fifteen_minutes(create_code):
    code = create_code(amount="25.00", memo="coffee")

    assert (code["amount"], code["memo"], code["single_use"], code["status"]) == ("25.00", "coffee", True, "active")
    assert code["qr_code_svg"].startswith("data:image/svg+xml") and code["qr_code_png"].startswith("data:image/png")
    payload = signing.loads(code["token"], salt=codes.SALT)
    row = ReceiveCode.objects.get(pk=code["id"])
    assert payload == {"id": row.pk, "exp": int(row.expires_at.timestamp())}
    assert row.expires_at - row.created_at == timedelta(minutes=15)


def test_an_open_code_lives_a_day_unless_told_and_only_within_bounds(create_code, shop, api_client_for):
    open_code = ReceiveCode.objects.get(pk=create_code()["id"])
    short = ReceiveCode.objects.get(pk=create_code(expires_in=120)["id"])
    too_long = api_client_for(shop).post(CODES, {"single_use": False, "expires_in": 8 * 86400}, format="json")

    assert open_code.expires_at - open_code.created_at == timedelta(hours=24)
    assert short.expires_at - short.created_at == timedelta(minutes=2)
    assert too_long.status_code == 400 and "expires_in" in too_long.json()["error"]["fields"]


def test_paying_a_fixed_code_sends_its_amount_to_its_owner(create_code, sender, shop, api_client_for):
    code = create_code(amount="25.00", memo="coffee")

    response = pay(api_client_for(sender), code["token"])

    assert response.status_code == 201
    body = response.json()
    assert (body["to"], body["amount"], body["memo"], body["receive_code"]) == ("shop", "25.00", "coffee", code["id"])
    assert wallet_summary(user=shop).balance == D("25.00")
    assert api_client_for(shop).get(f"{CODES}{code['id']}/").json()["status"] == "used"


def test_a_fixed_code_refuses_another_amount_and_an_open_code_needs_one(create_code, sender, api_client_for):
    fixed, open_code = create_code(amount="25.00"), create_code()
    client = api_client_for(sender)

    differs = pay(client, fixed["token"], amount="24.00", key="a")
    same = pay(client, fixed["token"], amount="25.00", key="b")
    missing = pay(client, open_code["token"], key="c")
    chosen = pay(client, open_code["token"], amount="7.50", key="d")

    assert differs.status_code == 400 and differs.json()["error"]["fields"] == {"amount": "differs_from_code"}
    assert same.status_code == 201
    assert missing.status_code == 400 and missing.json()["error"]["fields"] == {"amount": "required"}
    assert chosen.status_code == 201 and chosen.json()["amount"] == "7.50"


def test_an_expired_code_is_refused(create_code, sender, api_client_for):
    code = create_code(amount="5.00")

    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        response = pay(api_client_for(sender), code["token"])
        listed = api_client_for(ReceiveCode.objects.get(pk=code["id"]).owner).get(CODES).json()

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"receive_code": "expired"}
    assert listed["results"][0]["status"] == "expired"
    assert not PeerTransfer.objects.exists()


@pytest.mark.parametrize("tamper", ["id", "expiry", "signature", "garbage"])
def test_a_tampered_token_is_refused(create_code, sender, api_client_for, tamper, make_user):
    code = create_code(amount="5.00")
    other = ReceiveCode.objects.create(
        owner=make_user("mallory"),
        amount=D("500.00"),
        single_use=False,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    value, signature = code["token"].rsplit(":", 1)
    forged = {
        "id": signing.dumps({"id": other.pk, "exp": int(other.expires_at.timestamp())}, salt="another salt"),
        "expiry": signing.dumps({"id": code["id"], "exp": 4_000_000_000}, key="not our secret", salt=codes.SALT),
        "signature": f"{value}:{signature[:-2]}xx",
        "garbage": "not-a-token",
    }[tamper]

    response = pay(api_client_for(sender), forged)

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": "This receive code is not valid.",
        "fields": {"receive_code": "invalid"},
    }
    assert not PeerTransfer.objects.exists()


def test_a_revoked_code_is_refused_with_409_and_revoking_again_changes_nothing(
    create_code, sender, shop, api_client_for
):
    code = create_code()
    owner = api_client_for(shop)

    first = owner.post(f"{CODES}{code['id']}/revoke/")
    again = owner.post(f"{CODES}{code['id']}/revoke/")
    response = pay(api_client_for(sender), code["token"], amount="1.00")

    assert first.status_code == again.status_code == 200
    assert first.json()["revoked_at"] == again.json()["revoked_at"] and first.json()["status"] == "revoked"
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"receive_code": "revoked"}


def test_a_single_use_code_is_paid_once_and_a_reusable_one_many_times(
    create_code, sender, make_user, funded_account, api_client_for
):
    single, reusable = create_code(amount="5.00"), create_code(amount="5.00", single_use=False)
    other = make_user("other")
    funded_account(other, "50.00")

    first = pay(api_client_for(sender), single["token"], key="s1")
    reused = pay(api_client_for(other), single["token"], key="s2")
    many = [pay(api_client_for(payer), reusable["token"], key="r") for payer in (sender, other)]

    assert first.status_code == 201
    assert reused.status_code == 409 and reused.json()["error"]["fields"] == {"receive_code": "used"}
    assert [response.status_code for response in many] == [201, 201]
    assert PeerTransfer.objects.filter(receive_code_id=reusable["id"]).count() == 2


def test_a_code_pays_through_the_same_rules(create_code, sender, api_client_for):
    set_rule("transfer_single_max", amount=D("10.00"))
    code = create_code(amount="10.01")

    response = pay(api_client_for(sender), code["token"])

    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"risk_rule": "transfer_single_max"}
    assert (
        api_client_for(ReceiveCode.objects.get(pk=code["id"]).owner).get(CODES).json()["results"][0]["status"]
        == "active"
    )


def test_nobody_pays_their_own_code(create_code, shop, funded_account, api_client_for):
    funded_account(shop, "10.00")
    code = create_code(amount="1.00")

    response = pay(api_client_for(shop), code["token"])

    assert response.status_code == 400 and response.json()["error"]["fields"] == {"receive_code": "own"}


def test_giving_both_or_neither_of_to_and_receive_code_is_a_400(create_code, sender, api_client_for):
    code = create_code(amount="1.00")
    client = api_client_for(sender)

    both = pay(client, code["token"], to="shop", key="x")
    neither = client.post("/api/v1/transfers/", {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="y")

    assert both.status_code == neither.status_code == 400
    assert "to" in both.json()["error"]["fields"] and "to" in neither.json()["error"]["fields"]


def test_a_user_sees_and_revokes_only_their_own_codes(create_code, sender, api_client_for):
    code = create_code(amount="1.00")
    stranger = api_client_for(sender)

    assert stranger.get(f"{CODES}{code['id']}/").status_code == 404
    assert stranger.post(f"{CODES}{code['id']}/revoke/").status_code == 404
    assert stranger.get(CODES).json()["results"] == []
    assert ReceiveCode.objects.get(pk=code["id"]).revoked_at is None


def test_the_list_is_newest_first_in_a_fixed_number_of_queries(
    create_code, shop, api_client_for, django_assert_num_queries
):
    created = [create_code(amount=f"{i}.00")["id"] for i in range(1, 6)]
    client = api_client_for(shop)

    # token auth, the page
    with django_assert_num_queries(2):
        listed = client.get(CODES).json()["results"]

    assert [row["id"] for row in listed] == created[::-1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"single_use": 0}, "single_use"),
        ({"single_use": "true"}, "single_use"),
        ({}, "single_use"),
        ({"single_use": True, "expires_in": "60"}, "expires_in"),
        ({"single_use": True, "expires_in": 59}, "expires_in"),
        ({"single_use": True, "amount": "0.00"}, "amount"),
    ],
)
def test_a_code_is_created_only_from_input_as_the_schema_says(shop, api_client_for, body, field):
    response = api_client_for(shop).post(CODES, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ReceiveCode.objects.exists()
