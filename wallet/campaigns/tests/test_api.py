"""The rewards API of platform services and the settle of users, over HTTP."""

from decimal import Decimal

import pytest

from wallet.audit import ledger_audit
from wallet.campaigns import budget
from wallet.campaigns.models import Reward
from wallet.models import Account

pytestmark = pytest.mark.django_db

D = Decimal
REWARDS = "/api/v1/campaign/rewards/"
SETTLE = "/api/v1/wallet/rewards/settle/"


def give(client, **body):
    payload = {"campaign": "spring", "user": "alice", "amount": "8.88", "token": "tok-1", **body}
    return client.post(REWARDS, payload, format="json")


def test_a_platform_service_gives_a_reward_accepted_pending(make_campaign, alice, reward_service, api_client_for):
    make_campaign("spring")

    response = give(api_client_for(reward_service))

    assert response.status_code == 202
    body = response.json()
    assert {key: body[key] for key in ("token", "campaign", "user", "amount", "status", "credited_at")} == {
        "token": "tok-1",
        "campaign": "spring",
        "user": "alice",
        "amount": "8.88",
        "status": "pending",
        "credited_at": None,
    }


def test_the_same_token_again_answers_the_same_reward_with_200_and_other_content_409(
    make_campaign, alice, reward_service, api_client_for
):
    make_campaign("spring")
    client = api_client_for(reward_service)
    first = give(client)

    again = give(client)
    other = give(client, amount="9.99")

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert Reward.objects.count() == 1


def test_an_ordinary_user_cannot_give_rewards(make_campaign, alice, bob, api_client_for):
    make_campaign("spring")

    response = give(api_client_for(bob))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Reward.objects.exists()


def test_anonymous_callers_are_asked_to_authenticate(make_campaign, client):
    response = client.post(REWARDS, {}, content_type="application/json")

    assert response.status_code == 401


def test_a_reward_past_the_budget_is_a_422_budget_exhausted(make_campaign, alice, reward_service, api_client_for):
    make_campaign("spring", budget="10.00")
    client = api_client_for(reward_service)
    give(client, amount="6.00")

    response = give(client, amount="4.01", token="tok-2")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "budget_exhausted"
    assert Reward.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": 8.88}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"token": ""}, "token"),
        ({"token": "a b"}, "token"),
        ({"token": 5}, "token"),
        ({"user": "nobody"}, "user"),
        ({"campaign": "nope"}, "campaign"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_changes_nothing(
    make_campaign, alice, reward_service, api_client_for, body, field
):
    campaign = make_campaign("spring")

    response = give(api_client_for(reward_service), **body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not Reward.objects.exists()
    assert budget.counter_read(campaign_id=campaign.pk) in (None, D("0.00"))


def test_settle_credits_the_callers_rewards_and_answers_what_and_the_balance(
    make_campaign, alice, reward_service, api_client_for
):
    make_campaign("spring")
    service = api_client_for(reward_service)
    give(service, token="t1", amount="1.50")
    give(service, token="t2", amount="2.00")

    response = api_client_for(alice).post(SETTLE)
    wallet = api_client_for(alice).get("/api/v1/wallet/").json()

    assert response.status_code == 200
    assert response.json() == {"settled_count": 2, "settled_amount": "3.50", "balance": "3.50", "available": "3.50"}
    assert wallet["balance"] == "3.50"
    assert give(service, token="t1", amount="1.50").json()["status"] == "credited"
    assert Account.objects.get(owner=alice).balance == D("3.50")
    assert ledger_audit() == []


def test_settle_with_nothing_pending_settles_nothing(alice, api_client_for):
    response = api_client_for(alice).post(SETTLE)

    assert response.json() == {"settled_count": 0, "settled_amount": "0.00", "balance": "0.00", "available": "0.00"}
