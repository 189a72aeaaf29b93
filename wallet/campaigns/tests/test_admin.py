"""Campaigns and rewards in the admin: opened through the services, spending against the budget."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from wallet.campaigns import services
from wallet.campaigns.models import Campaign

pytestmark = pytest.mark.django_db

D = Decimal
CAMPAIGNS = "/admin/wallet/campaign/"
REWARDS = "/admin/wallet/reward/"


def form(**values) -> dict:
    now = timezone.localtime()
    start, end = now - timedelta(hours=1), now + timedelta(days=1)
    return {
        "name": "spring",
        "title": "Spring festival",
        "budget": "1000.00",
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
        **values,
    }


def test_a_campaign_manager_opens_a_campaign_with_its_hot_account(staff_in, client_for):
    response = client_for(staff_in("campaign_manager")).post(f"{CAMPAIGNS}add/", form())

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.account.code, campaign.account.is_hot, campaign.status) == ("campaign:spring", True, "active")


@pytest.mark.parametrize(("values", "field"), [({"name": "Not A Slug!"}, "name"), ({"budget": "0"}, "budget")])
def test_bad_terms_show_on_their_field_and_create_nothing(staff_in, client_for, values, field):
    response = client_for(staff_in("campaign_manager")).post(f"{CAMPAIGNS}add/", form(**values))

    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_the_list_shows_what_was_paid_out_and_promised_against_the_budget(make_campaign, alice, staff_in, client_for):
    campaign = make_campaign("spring", budget="100.00")
    services.reward_accept(campaign_name="spring", user=alice, amount=D("10.00"), token="t1")
    services.rewards_credit_pending()
    services.reward_accept(campaign_name="spring", user=alice, amount=D("15.00"), token="t2")

    page = client_for(staff_in("auditor")).get(CAMPAIGNS).content.decode()
    detail = client_for(staff_in("auditor")).get(f"{CAMPAIGNS}{campaign.pk}/change/").content.decode()

    assert "10.00" in page and "15.00" in page and "75.00" in page and "25%" in page
    assert "25.00" in detail  # the budget counter: every reward accepted


def test_pausing_from_the_list_calls_the_service_and_an_impossible_step_shows_its_error(
    make_campaign, staff_in, client_for
):
    campaign = make_campaign("spring")
    client = client_for(staff_in("campaign_manager"))
    client.post(CAMPAIGNS, {"action": "end_selected", "_selected_action": [campaign.pk]})

    response = client.post(CAMPAIGNS, {"action": "pause_selected", "_selected_action": [campaign.pk]}, follow=True)

    campaign.refresh_from_db()
    assert campaign.status == "ended"
    assert any("cannot pause" in str(message) for message in get_messages(response.wsgi_request))


def test_rewards_are_read_only_even_for_superusers(make_campaign, alice, make_user, client_for):
    make_campaign("spring")
    services.reward_accept(campaign_name="spring", user=alice, amount=D("1.00"), token="t1")
    client = client_for(make_user("root", is_staff=True, is_superuser=True))

    assert client.get(REWARDS).status_code == 200
    assert client.get(f"{REWARDS}add/").status_code == 403
