"""The withdrawal window and the staged rollout: rows operations switch on and off."""

from datetime import UTC, datetime, time

import pytest

from risk.tests.support import hit_codes, local, set_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def window_on():
    set_rule("withdrawal_window", enabled=True)


@pytest.fixture
def rollout_at():
    def switch(percent: int) -> None:
        set_rule("staged_rollout", enabled=True, percent=percent)

    return switch


# Window (closed 19:00 to 01:00 local time)


@pytest.mark.parametrize(
    ("now", "closed"),
    [
        (local(18, 59, 59, 999999), False),
        (local(19, 0), True),
        (local(23, 30), True),
        (local(0, 0, day=3), True),
        (local(0, 59, 59, 999999, day=3), True),
        (local(1, 0, day=3), False),
        (local(12, 0), False),
    ],
    ids=["18:59:59.999", "19:00", "23:30", "00:00", "00:59:59.999", "01:00", "12:00"],
)
def test_when_the_window_is_on_withdrawals_from_19_00_until_01_00_are_refused(window_on, evaluate, now, closed):
    evaluation = evaluate(now=now)

    assert evaluation.outcome == ("reject" if closed else "allow")
    assert evaluation.refusal_code == ("window_closed" if closed else "")
    assert ("withdrawal_window" in hit_codes(evaluation)) is closed


def test_a_window_refusal_says_when_withdrawals_are_closed(window_on, evaluate):
    evaluation = evaluate(now=local(19, 0))

    assert evaluation.refusal_message == "Withdrawals are closed between 19:00 and 01:00."
    assert [(hit["observed"], hit["limit"]) for hit in evaluation.hits] == [("19:00:00", "19:00-01:00")]


@pytest.mark.parametrize("now", [local(19, 0), local(0, 59, day=3)], ids=["19:00", "00:59"])
def test_as_seeded_the_window_is_off_and_evening_withdrawals_pass(evaluate, now):
    evaluation = evaluate(now=now)

    assert (evaluation.outcome, evaluation.hits) == ("allow", [])


def test_the_window_is_read_in_local_time_whatever_the_zone_of_now(window_on, evaluate, settings):
    settings.TIME_ZONE = "Asia/Shanghai"

    at_19_local = evaluate(now=datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    at_18_local = evaluate(now=datetime(2026, 3, 2, 10, 59, tzinfo=UTC))

    assert at_19_local.refusal_code == "window_closed"
    assert at_18_local.outcome == "allow"


def test_new_window_times_take_effect_on_the_next_withdrawal(window_on, evaluate):
    assert evaluate(now=local(18, 15)).outcome == "allow"

    set_rule("withdrawal_window", closed_from=time(18, 0), closed_until=time(18, 30))

    assert evaluate(now=local(18, 15)).refusal_code == "window_closed"
    assert evaluate(now=local(18, 30)).outcome == "allow"
    assert evaluate(now=local(19, 30)).outcome == "allow"


def test_switching_the_window_off_again_lets_evening_withdrawals_through(window_on, evaluate):
    assert evaluate(now=local(20, 0)).outcome == "reject"

    set_rule("withdrawal_window", enabled=False)

    assert evaluate(now=local(20, 0)).outcome == "allow"


# Staged rollout (user id % 100 below the percent)


def test_as_seeded_the_rollout_is_off_and_everyone_may_withdraw(evaluate, make_user):
    evaluations = [evaluate(user=make_user(id=900_000 + bucket)) for bucket in (0, 37, 99)]

    assert [evaluation.outcome for evaluation in evaluations] == ["allow"] * 3


def test_at_37_percent_bucket_36_may_withdraw_and_bucket_37_may_not(rollout_at, evaluate, make_user):
    rollout_at(37)

    inside = evaluate(user=make_user(id=900_036))
    outside = evaluate(user=make_user(id=900_037))

    assert inside.outcome == "allow"
    assert (outside.outcome, outside.refusal_code) == ("reject", "not_available")
    assert outside.refusal_message == "Withdrawals are not available for your account yet."
    assert hit_codes(outside) == ["staged_rollout"]


def test_at_0_percent_nobody_may_withdraw(rollout_at, evaluate, make_user):
    rollout_at(0)

    evaluations = [evaluate(user=make_user(id=900_000 + bucket)) for bucket in (0, 1, 99)]

    assert [evaluation.refusal_code for evaluation in evaluations] == ["not_available"] * 3


def test_at_100_percent_everybody_may_withdraw(rollout_at, evaluate, make_user):
    rollout_at(100)

    evaluations = [evaluate(user=make_user(id=900_000 + bucket)) for bucket in (0, 1, 99)]

    assert [evaluation.outcome for evaluation in evaluations] == ["allow"] * 3


def test_raising_the_percent_lets_the_next_bucket_in(rollout_at, evaluate, make_user):
    user = make_user(id=900_037)
    rollout_at(37)
    assert evaluate(user=user).outcome == "reject"

    rollout_at(38)

    assert evaluate(user=user).outcome == "allow"
