"""Internal reconciliation of wallets that received campaign rewards (docs/WALLET.md, "Campaign income")."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from reconciliation import internal
from wallet import services as ledger
from wallet.campaigns import services as campaigns

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def campaign(make_user):
    now = timezone.now()
    return campaigns.campaign_create(
        name="spring",
        title="Spring festival",
        budget_amount=D("1000.00"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        actor=make_user("campaign-manager", is_staff=True),
    )


def test_credited_rewards_explain_the_wallet_and_pending_ones_are_not_yet_in_it(campaign, make_user):
    # Given a user with two rewards credited in a batch and a third still pending
    user = make_user()
    for token, amount in (("t1", "1.50"), ("t2", "2.00")):
        campaigns.reward_accept(campaign_name="spring", user=user, amount=D(amount), token=token)
    campaigns.rewards_credit_pending()
    campaigns.reward_accept(campaign_name="spring", user=user, amount=D("4.00"), token="t3")

    # When the book is reconciled, then nothing differs
    assert internal.internal_reconcile() == []


def test_a_campaign_credit_with_no_reward_behind_it_is_a_balance_mismatch(campaign, make_user):
    user = make_user()
    wallet = ledger.account_for_user(user=user)
    ledger.transfer_post(
        idempotency_key="stray-reward",
        kind="campaign_reward",
        legs=[ledger.Leg(campaign.account, D("-5.00")), ledger.Leg(wallet, D("5.00"))],
    )

    differences = internal.internal_reconcile()

    assert [(d.outcome, d.order_no) for d in differences] == [("balance_mismatch", wallet.code)]
    assert "campaign_reward: expected 0, found 5.00" in differences[0].detail
