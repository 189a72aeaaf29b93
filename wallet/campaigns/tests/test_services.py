"""Accepting, crediting and settling rewards, one request at a time, on the real database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_fsm_log.models import StateLog

from wallet import errors
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.campaigns import budget, selectors, services, tasks
from wallet.campaigns.models import Reward
from wallet.idempotency import MAX_KEY_LENGTH
from wallet.models import Account, Entry, Transfer
from wallet.selectors import account_balance

pytestmark = pytest.mark.django_db

D = Decimal


def accept(campaign, user, amount: str, token: str):
    return services.reward_accept(campaign_name=campaign.name, user=user, amount=D(amount), token=token)


def wallet_balance(user) -> Decimal:
    account = Account.objects.filter(owner=user).first()
    return D("0.00") if account is None else account.balance


def test_a_campaign_pays_from_its_own_hot_account(make_campaign):
    campaign = make_campaign("spring")

    assert (campaign.account.code, campaign.account.is_hot, campaign.account.allow_negative) == (
        "campaign:spring",
        True,
        True,
    )


def test_an_accepted_reward_is_pending_and_moves_no_money_until_credited(make_campaign, alice, sent_tasks):
    campaign = make_campaign()

    acceptance = accept(campaign, alice, "8.88", "tok-1")

    assert acceptance.created and acceptance.reward.status == Reward.Status.PENDING
    assert not Transfer.objects.exists() and wallet_balance(alice) == D("0.00")
    assert budget.counter_read(campaign_id=campaign.pk) == D("8.88")


def test_a_reward_replayed_by_its_token_is_the_same_reward_and_is_credited_once(make_campaign, alice):
    # Given a reward accepted, then replayed before and after crediting
    campaign = make_campaign()
    first = accept(campaign, alice, "8.88", "tok-1")
    again = accept(campaign, alice, "8.88", "tok-1")
    services.rewards_credit_pending()
    after_credit = accept(campaign, alice, "8.88", "tok-1")
    services.rewards_credit_pending()

    # Then it is one reward, one credit, one reservation on the budget
    assert (again.created, after_credit.created) == (False, False)
    assert again.reward.pk == after_credit.reward.pk == first.reward.pk
    assert Reward.objects.count() == 1 and wallet_balance(alice) == D("8.88")
    assert Entry.objects.filter(account__owner=alice).count() == 1
    assert budget.counter_read(campaign_id=campaign.pk) == D("8.88")
    assert ledger_audit() == []


@pytest.mark.parametrize("change", ["amount", "user", "campaign"])
def test_the_same_token_with_other_content_is_an_idempotency_conflict_and_changes_nothing(
    make_campaign, alice, bob, change
):
    spring, autumn = make_campaign("spring"), make_campaign("autumn")
    accept(spring, alice, "8.88", "tok-1")
    other = {
        "amount": (spring, alice, "9.99"),
        "user": (spring, bob, "8.88"),
        "campaign": (autumn, alice, "8.88"),
    }[change]

    with pytest.raises(errors.IdempotencyConflict):
        accept(*other, "tok-1")

    assert Reward.objects.count() == 1
    assert budget.counter_read(campaign_id=spring.pk) == D("8.88")
    assert budget.counter_read(campaign_id=autumn.pk) in (None, D("0.00"))


def test_a_reward_that_would_pass_the_budget_is_refused_and_changes_nothing(make_campaign, alice, bob):
    campaign = make_campaign(budget="10.00")
    accept(campaign, alice, "6.00", "tok-1")

    with pytest.raises(errors.BudgetExhausted):
        accept(campaign, bob, "4.01", "tok-2")
    last = accept(campaign, bob, "4.00", "tok-3")

    assert last.created
    assert list(Reward.objects.order_by("pk").values_list("token", flat=True)) == ["tok-1", "tok-3"]
    assert budget.counter_read(campaign_id=campaign.pk) == D("10.00")
    with pytest.raises(errors.BudgetExhausted):
        accept(campaign, bob, "0.01", "tok-4")


@pytest.mark.parametrize("state", ["paused", "ended", "not_started", "over"])
def test_a_campaign_outside_its_window_or_not_active_refuses_rewards(make_campaign, alice, state):
    now = timezone.now()
    window = {
        "not_started": {"starts_at": now + timedelta(hours=1), "ends_at": now + timedelta(hours=2)},
        "over": {"starts_at": now - timedelta(hours=2), "ends_at": now - timedelta(hours=1)},
    }.get(state, {})
    campaign = make_campaign(**window)
    if state == "paused":
        services.campaign_pause(campaign=campaign, actor=alice)
    if state == "ended":
        services.campaign_end(campaign=campaign, actor=alice)

    with pytest.raises(errors.CampaignNotActive):
        accept(campaign, alice, "1.00", "tok-1")

    assert not Reward.objects.exists()


def test_a_paused_campaign_resumed_accepts_again_and_an_ended_one_cannot_resume(make_campaign, alice):
    campaign = make_campaign()
    services.campaign_pause(campaign=campaign, actor=alice)
    services.campaign_resume(campaign=campaign, actor=alice)
    accept(campaign, alice, "1.00", "tok-1")
    services.campaign_end(campaign=campaign, actor=alice)

    with pytest.raises(errors.Conflict):
        services.campaign_resume(campaign=campaign, actor=alice)
    logged = StateLog.objects.for_(campaign).order_by("pk").values_list("transition", "state", "by")
    assert list(logged) == [("pause", "paused", alice.pk), ("resume", "active", alice.pk), ("end", "ended", alice.pk)]


@pytest.mark.parametrize(
    ("amount", "token", "field"),
    [
        ("0.00", "t", "amount"),
        ("1.001", "t", "amount"),
        ("-1.00", "t", "amount"),
        ("1.00", "", "token"),
        ("1.00", "with blank", "token"),
        ("1.00", "x" * (MAX_KEY_LENGTH + 1), "token"),
    ],
)
def test_bad_input_is_a_validation_error_on_its_field_and_changes_nothing(make_campaign, alice, amount, token, field):
    campaign = make_campaign()

    with pytest.raises(errors.ValidationFailed) as refused:
        accept(campaign, alice, amount, token)

    assert field in refused.value.fields and not Reward.objects.exists()


def test_an_unknown_campaign_is_a_validation_error(alice):
    with pytest.raises(errors.ValidationFailed) as refused:
        services.reward_accept(campaign_name="nope", user=alice, amount=D("1.00"), token="t")

    assert refused.value.fields == {"campaign": "not_found"}


def test_a_missing_budget_counter_is_rebuilt_from_the_rewards_before_the_next_accept(make_campaign, alice):
    # Given two rewards accepted, then the counter lost (Redis restarted)
    campaign = make_campaign(budget="10.00")
    accept(campaign, alice, "3.00", "tok-1")
    accept(campaign, alice, "4.00", "tok-2")
    services.rewards_credit_pending()
    budget.counter_delete(campaign_id=campaign.pk)

    # When the next rewards arrive, then the counter counts every reward in the database
    with pytest.raises(errors.BudgetExhausted):
        accept(campaign, alice, "3.01", "tok-3")
    accept(campaign, alice, "3.00", "tok-4")
    assert budget.counter_read(campaign_id=campaign.pk) == D("10.00")


def test_a_batch_credits_pending_rewards_with_one_transfer_and_one_leg_per_user(make_campaign, alice, bob):
    # Given three rewards for alice from two campaigns and one for bob
    spring, autumn = make_campaign("spring"), make_campaign("autumn")
    accept(spring, alice, "1.00", "a1")
    accept(spring, alice, "2.00", "a2")
    accept(autumn, alice, "3.00", "a3")
    accept(spring, bob, "0.50", "b1")

    # When a batch runs
    credited = services.rewards_credit_batch()

    # Then one transfer pays them: alice one leg of 6.00, bob 0.50, each campaign its sum
    assert (credited.count, credited.amount) == (4, D("6.50"))
    transfer = Transfer.objects.get()
    legs = {entry.account.code: entry.amount for entry in transfer.entries.select_related("account")}
    assert legs == {
        f"user:{alice.pk}:CNY": D("6.00"),
        f"user:{bob.pk}:CNY": D("0.50"),
        "campaign:spring": D("-3.50"),
        "campaign:autumn": D("-3.00"),
    }
    assert transfer.kind == "campaign_reward"
    assert set(Reward.objects.values_list("status", "transfer_id")) == {("credited", transfer.pk)}
    assert account_balance(account=spring.account) == D("-3.50")
    assert services.rewards_credit_batch().count == 0
    assert ledger_audit() == []


def test_batches_take_the_oldest_rewards_first_and_the_task_goes_on_until_none_is_left(make_campaign, alice, bob):
    campaign = make_campaign()
    for number in range(7):
        accept(campaign, alice if number % 2 else bob, "1.00", f"t{number}")

    first = services.rewards_credit_batch(limit=3)
    rest = services.rewards_credit_pending(batch_size=3)

    assert (first.count, rest.count) == (3, 4)
    first_ids = set(Reward.objects.order_by("pk").values_list("pk", flat=True)[:3])
    first_transfer = Reward.objects.get(pk=min(first_ids)).transfer
    assert set(Reward.objects.filter(transfer=first_transfer).values_list("pk", flat=True)) == first_ids
    assert wallet_balance(alice) + wallet_balance(bob) == D("7.00")


def test_a_credit_task_that_runs_out_of_batches_queues_the_next_one(make_campaign, alice, sent_tasks):
    campaign = make_campaign()
    for number in range(5):
        accept(campaign, alice, "1.00", f"t{number}")
    services.rewards_credit_started()

    credited = services.rewards_credit_pending(max_batches=2, batch_size=2)

    assert credited.count == 4
    assert len(sent_tasks.named(services.CREDIT_TASK)) == 1


def test_many_accepts_queue_one_credit_task_on_commit_until_it_starts(
    make_campaign, alice, sent_tasks, django_capture_on_commit_callbacks
):
    campaign = make_campaign()

    with django_capture_on_commit_callbacks(execute=True):
        for number in range(3):
            accept(campaign, alice, "1.00", f"t{number}")
    queued_while_waiting = len(sent_tasks.named(services.CREDIT_TASK))
    tasks.campaign_rewards_credit()
    with django_capture_on_commit_callbacks(execute=True):
        accept(campaign, alice, "1.00", "t-after")

    assert queued_while_waiting == 1
    assert len(sent_tasks.named(services.CREDIT_TASK)) == 2
    assert wallet_balance(alice) == D("3.00")


def test_the_sweep_credits_what_is_pending(make_campaign, alice):
    campaign = make_campaign()
    accept(campaign, alice, "2.50", "t1")

    assert tasks.campaign_rewards_sweep() == 1
    assert wallet_balance(alice) == D("2.50")


def test_settle_credits_the_callers_pending_rewards_only_and_answers_the_new_balance(
    make_campaign, alice, bob, funded_account
):
    campaign = make_campaign()
    funded_account(alice, "10.00")
    accept(campaign, alice, "1.00", "a1")
    accept(campaign, alice, "2.00", "a2")
    accept(campaign, bob, "5.00", "b1")

    settled = services.rewards_settle(user=alice)
    again = services.rewards_settle(user=alice)

    assert (settled.count, settled.amount, settled.balance, settled.available) == (2, D("3.00"), D("13.00"), D("13.00"))
    assert (again.count, again.amount, again.balance) == (0, D("0.00"), D("13.00"))
    assert Reward.objects.get(token="b1").status == Reward.Status.PENDING
    assert ledger_audit() == []


def test_a_frozen_campaign_account_holds_its_rewards_back_and_others_are_credited(make_campaign, alice):
    spring, autumn = make_campaign("spring"), make_campaign("autumn")
    accept(spring, alice, "1.00", "s1")
    accept(autumn, alice, "2.00", "a1")
    Account.objects.filter(pk=spring.account_id).update(status=Account.Status.FROZEN)

    services.rewards_credit_pending()

    assert dict(Reward.objects.values_list("token", "status")) == {"s1": "pending", "a1": "credited"}


def test_the_spending_of_a_campaign_is_what_its_account_paid_out_and_what_is_pending(make_campaign, alice):
    campaign = make_campaign(budget="100.00")
    accept(campaign, alice, "10.00", "t1")
    services.rewards_credit_pending()
    accept(campaign, alice, "15.00", "t2")

    spending = selectors.campaign_spending(campaign=campaign)

    assert (spending.paid_out, spending.pending, spending.spent, spending.remaining, spending.percent) == (
        D("10.00"),
        D("15.00"),
        D("25.00"),
        D("75.00"),
        25,
    )


def test_the_database_keeps_a_credited_reward_final_the_terms_fixed_and_every_reward(make_campaign, alice):
    # Given a credited reward and a pending one
    campaign = make_campaign()
    accept(campaign, alice, "1.00", "credited")
    services.rewards_credit_pending()
    accept(campaign, alice, "2.00", "pending")

    # Then the database refuses to undo the credit, to change the terms, or to delete either
    for statement in (
        "UPDATE wallet_reward SET status = 'pending', transfer_id = NULL, credited_at = NULL WHERE token = 'credited'",
        "UPDATE wallet_reward SET amount = 20 WHERE token = 'pending'",
        "UPDATE wallet_reward SET user_id = user_id + 1 WHERE token = 'pending'",
        "DELETE FROM wallet_reward WHERE token = 'pending'",
    ):
        with (
            pytest.raises(DatabaseError, match="pgtrigger: Cannot (update|delete) rows"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert sorted(Reward.objects.values_list("token", "amount", "status")) == [
        ("credited", D("1.00"), "credited"),
        ("pending", D("2.00"), "pending"),
    ]


def test_a_reward_cannot_be_credited_without_its_transfer(make_campaign, alice):
    campaign = make_campaign()
    accept(campaign, alice, "1.00", "t1")

    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.update(status=Reward.Status.CREDITED)


def test_an_accept_costs_a_fixed_number_of_queries(make_campaign, alice, django_assert_num_queries):
    # Given a campaign with rewards accepted already (its counter in Redis)
    campaign = make_campaign()
    for number in range(5):
        accept(campaign, alice, "1.00", f"t{number}")

    # Then one more is: the campaign, the token's replay, the shared budget lock, the insert, plus
    # the savepoints of its transaction inside the test's
    with django_assert_num_queries(6):
        accept(campaign, alice, "1.00", "last")


def test_a_batch_of_many_rewards_costs_the_queries_of_a_batch_of_one(
    make_campaign, make_user, django_assert_num_queries
):
    # Given 30 users with wallets, one pending reward credited alone, then 60 more for them
    campaign = make_campaign()
    users = [make_user() for _ in range(30)]
    for user in users:
        ledger.account_for_user(user=user)
    accept(campaign, users[0], "1.00", "alone")
    with CaptureQueriesContext(connection) as one:
        services.rewards_credit_batch()
    for number in range(60):
        accept(campaign, users[number % 30], "1.00", f"t{number}")

    # When they are credited in one batch, then it takes as many queries as the one did
    with django_assert_num_queries(len(one.captured_queries)):
        assert services.rewards_credit_batch().count == 60
