"""The withdrawal submit settles the user's campaign rewards first (docs/WALLET.md, "Campaign income")."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.withdrawals.models import Withdrawal
from wallet import errors
from wallet.audit import ledger_audit
from wallet.campaigns import services as campaign_services
from wallet.campaigns.models import Reward
from wallet.models import Account

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def rewarded(make_user):
    """Give ``user`` a pending reward of ``amount`` from a campaign."""
    manager = make_user("campaign-manager", is_staff=True)
    now = timezone.now()
    campaign = campaign_services.campaign_create(
        name="spring",
        title="Spring festival",
        budget_amount=D("10000.00"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
        actor=manager,
    )

    def give(user, amount: str, token: str) -> Reward:
        return campaign_services.reward_accept(
            campaign_name=campaign.name, user=user, amount=D(amount), token=token
        ).reward

    return give


def test_a_user_whose_only_money_is_a_pending_reward_can_withdraw_it(make_user, rewarded, submit):
    # Given a user whose only money is a reward not yet credited
    user = make_user()
    rewarded(user, "50.00", "rain-1")

    # When they withdraw all of it
    withdrawal = submit(user, "50.00")

    # Then the reward was credited first and the withdrawal holds it
    assert Reward.objects.get(token="rain-1").status == Reward.Status.CREDITED
    wallet = Account.objects.get(owner=user)
    assert (wallet.balance, wallet.held) == (D("50.00"), D("50.00"))
    assert withdrawal.status == Withdrawal.Status.APPROVED
    assert ledger_audit() == []


def test_a_refused_submission_still_leaves_the_rewards_credited_and_no_order(make_user, rewarded, submit):
    # Given a pending reward of 5.00 only
    user = make_user()
    rewarded(user, "5.00", "rain-1")

    # When the user asks for more than that
    with pytest.raises(errors.InsufficientFunds):
        submit(user, "10.00")

    # Then the settle committed on its own: the reward is in the wallet, and no order exists
    assert Account.objects.get(owner=user).balance == D("5.00")
    assert not Withdrawal.objects.filter(user=user).exists()
    assert ledger_audit() == []
