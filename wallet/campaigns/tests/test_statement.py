"""A campaign reward: its status code while it waits for the worker and once credited, and its
line on the statement (wallet.campaigns.reasons, wallet.statements)."""

import pytest
from django.utils import translation

from wallet.campaigns import services

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/wallet/entries/"
REWARDS = "/api/v1/campaign/rewards/"


def test_a_reward_is_crediting_then_credited_and_its_line_names_the_campaign(
    make_campaign, make_user, reward_service, api_client_for
):
    make_campaign("spring", title="Spring festival")
    bob = make_user("bob")
    body = {"campaign": "spring", "user": "bob", "amount": "2.00", "token": "t-1"}
    service = api_client_for(reward_service)

    english = service.post(REWARDS, body, format="json").json()
    with translation.override("zh-hans"):
        chinese = service.post(REWARDS, body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert (english["status"], english["status_code"]) == ("pending", "crediting")
    assert english["status_message"] == "Accepted; it will be credited to the wallet shortly."
    assert chinese["status_message"] == "已受理，稍后将存入钱包。"

    services.rewards_credit_for_user(user=bob)

    assert service.post(REWARDS, body, format="json").json()["status_code"] == "credited"
    [line] = api_client_for(bob).get(ENTRIES).json()["results"]
    assert (line["kind"], line["counterparty"], line["description"]) == (
        "campaign_reward",
        "Spring festival",
        "Reward: Spring festival",
    )
