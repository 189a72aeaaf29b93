"""Many accepts, batches and settles at once, each on its own connection, on the real database."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Sum

from wallet.audit import ledger_audit
from wallet.campaigns import budget, services
from wallet.campaigns.models import Reward
from wallet.models import Account, Entry
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def accept(campaign, user, amount: str, token: str) -> str:
    acceptance = services.reward_accept(campaign_name=campaign.name, user=user, amount=D(amount), token=token)
    return "accepted" if acceptance.created else "replayed"


def reward_entries(user) -> list[Decimal]:
    return list(Entry.objects.filter(account__owner=user).values_list("amount", flat=True))


def test_the_same_token_twenty_times_at_once_is_one_reward_and_one_credit(make_campaign, alice):
    campaign = make_campaign(budget="100.00")

    outcomes = run_in_threads(20, lambda i: accept(campaign, alice, "8.88", "tok-rain-1"))
    services.rewards_credit_pending()
    services.rewards_settle(user=alice)

    assert outcomes == Counter({"accepted": 1, "replayed": 19})
    assert Reward.objects.count() == 1
    assert reward_entries(alice) == [D("8.88")]
    assert budget.counter_read(campaign_id=campaign.pk) == D("8.88")
    assert ledger_audit() == []


def test_concurrent_accepts_never_take_a_campaign_over_its_budget(make_campaign, make_user):
    # Given a budget of 100.00 and 40 users each given 7.00 at once (room for 14)
    campaign = make_campaign(budget="100.00")
    users = [make_user() for _ in range(40)]

    outcomes = run_in_threads(40, lambda i: accept(campaign, users[i], "7.00", f"tok-{i}"))

    # Then exactly 14 are accepted; the refused ones left no reward and no reservation
    assert outcomes == Counter({"accepted": 14, "budget_exhausted": 26})
    accepted = Reward.objects.aggregate(total=Sum("amount"))["total"]
    assert accepted == D("98.00") and Reward.objects.count() == 14
    assert budget.counter_read(campaign_id=campaign.pk) == accepted
    services.rewards_credit_pending()
    assert ledger_audit() == []


def test_accepts_racing_counter_rebuilds_and_losses_count_every_reward_once(make_campaign, make_user):
    # Given a campaign whose counter is rebuilt over and over, and lost twice (an accept retries
    # after a loss up to three times: fewer losses than that can never use up its attempts),
    # while nine threads give rewards
    campaign = make_campaign(budget="1000.00")
    users = [make_user() for _ in range(3)]

    def work(i: int) -> str:
        if i < 3:
            for n in range(8):
                if i == 0 and n in (2, 5):
                    budget.counter_delete(campaign_id=campaign.pk)
                services.campaign_budget_recount(campaign_id=campaign.pk)
            return "rebuilt"
        outcomes = [accept(campaign, users[i % 3], "1.00", f"tok-{i}-{n}") for n in range(15)]
        return ",".join(sorted(set(outcomes)))

    outcomes = run_in_threads(12, work)

    # Then every reward is accepted and the counter holds each exactly once
    assert outcomes == Counter({"accepted": 9, "rebuilt": 3})
    assert Reward.objects.count() == 135
    assert budget.counter_read(campaign_id=campaign.pk) == D("135.00")


def test_two_batch_workers_racing_credit_each_reward_exactly_once(make_campaign, make_user):
    # Given 300 pending rewards for 30 users
    campaign = make_campaign(budget="10000.00")
    users = [make_user() for _ in range(30)]
    for n in range(300):
        accept(campaign, users[n % 30], "1.00", f"tok-{n}")

    # When two workers credit in small batches at once
    outcomes = run_in_threads(2, lambda i: str(services.rewards_credit_pending(batch_size=25, max_batches=100).count))

    # Then all 300 are credited once between them, each user has 10.00
    assert sum(int(count) for count in outcomes.elements()) == 300
    assert not Reward.objects.filter(status=Reward.Status.PENDING).exists()
    balances = set(Account.objects.filter(owner__in=users).values_list("balance", flat=True))
    assert balances == {D("10.00")}
    assert Entry.objects.filter(account=campaign.account).aggregate(total=Sum("amount"))["total"] == D("-300.00")
    assert ledger_audit() == []


def test_a_settle_racing_batches_credits_each_reward_once_and_answers_every_reward(make_campaign, make_user):
    # Given many pending rewards for alice among others'
    campaign = make_campaign(budget="10000.00")
    alice, others = make_user("alice"), [make_user() for _ in range(5)]
    for n in range(200):
        accept(campaign, alice if n % 2 else others[n % 5], "1.00", f"tok-{n}")
    balances_seen: list[Decimal] = []
    lock = threading.Lock()

    # When two batch workers and alice's settles run at once
    def work(i: int) -> str:
        if i < 2:
            return f"batch:{services.rewards_credit_pending(batch_size=10, max_batches=100).count}"
        settlement = services.rewards_settle(user=alice)
        with lock:
            balances_seen.append(settlement.balance)
        return f"settle:{settlement.count}"

    outcomes = run_in_threads(5, work)

    # Then nothing deadlocked, every reward is credited once, and every settle saw all 100 of hers
    assert all(":" in outcome for outcome in outcomes), outcomes
    assert sum(int(outcome.split(":")[1]) for outcome in outcomes.elements()) == 200
    assert balances_seen == [D("100.00")] * 3
    assert Account.objects.get(owner=alice).balance == D("100.00")
    assert ledger_audit() == []
