"""Each seeded rule at, below and above its boundary, and the periods the counts cover."""

from datetime import UTC, datetime, timedelta

import pytest

from risk.kinds import Period
from risk.rules import period_starts
from risk.tests.support import hit_codes, local, set_rule

pytestmark = pytest.mark.django_db


def refused_by(evaluation, code: str) -> bool:
    """Whether ``code`` fired and the withdrawal is refused."""
    return code in hit_codes(evaluation) and evaluation.outcome == "reject"


@pytest.mark.parametrize(("amount", "refused"), [("0.99", True), ("1.00", False), ("1.01", False)])
def test_the_minimum_of_1_00_may_be_withdrawn_but_not_less(evaluate, amount, refused):
    evaluation = evaluate(amount)

    assert refused_by(evaluation, "min_amount") is refused
    assert ("min_amount" in hit_codes(evaluation)) is refused


def test_below_the_minimum_the_refusal_is_limit_exceeded_with_the_rule_message(evaluate):
    evaluation = evaluate("0.99")

    assert (evaluation.refusal_code, evaluation.refusal_message) == (
        "limit_exceeded",
        "The minimum withdrawal is 1.00.",
    )
    assert evaluation.hits == [
        {
            "rule": "min_amount",
            "kind": "amount_min",
            "action": "reject",
            "message": "The minimum withdrawal is 1.00.",
            "observed": "0.99",
            "limit": "1.00",
        }
    ]


@pytest.mark.parametrize(("amount", "refused"), [("9999.99", False), ("10000.00", False), ("10000.01", True)])
def test_a_single_withdrawal_may_be_at_most_10000_00(evaluate, amount, refused):
    evaluation = evaluate(amount)

    assert ("single_max" in hit_codes(evaluation)) is refused
    assert evaluation.outcome == ("reject" if refused else "review")
    assert evaluation.refusal_code == ("limit_exceeded" if refused else "")


@pytest.mark.parametrize(("amount", "refused"), [("99.99", False), ("100.00", False), ("100.01", True)])
def test_the_day_total_including_this_withdrawal_may_be_at_most_50000_00(evaluate, amount, refused):
    earlier = {Period.DAY: "49900.00", Period.DAYS_30: "49900.00"}

    evaluation = evaluate(amount, amounts=earlier)

    assert refused_by(evaluation, "daily_amount") is refused
    assert ("daily_amount" in hit_codes(evaluation)) is refused


def test_the_day_total_hit_reports_the_total_with_this_withdrawal_and_the_limit(evaluate):
    evaluation = evaluate("100.01", amounts={Period.DAY: "49900.00", Period.DAYS_30: "49900.00"})

    [hit] = [hit for hit in evaluation.hits if hit["rule"] == "daily_amount"]
    assert (hit["observed"], hit["limit"]) == ("50000.01", "50000.00")
    assert evaluation.refusal_code == "limit_exceeded"


def test_amounts_of_other_periods_do_not_count_towards_the_day(evaluate):
    evaluation = evaluate("100.00", amounts={Period.DAY: "0.00", Period.DAYS_30: "500000.00"})

    assert evaluation.outcome == "allow"


@pytest.mark.parametrize(
    ("code", "period", "existing", "refused"),
    [
        ("daily_count", Period.DAY, 3, False),
        ("daily_count", Period.DAY, 4, False),
        ("daily_count", Period.DAY, 5, True),
        ("hourly_count", Period.HOUR, 1, False),
        ("hourly_count", Period.HOUR, 2, False),
        ("hourly_count", Period.HOUR, 3, True),
        ("monthly_count", Period.DAYS_30, 18, False),
        ("monthly_count", Period.DAYS_30, 19, False),
        ("monthly_count", Period.DAYS_30, 20, True),
    ],
)
def test_a_count_limit_allows_n_withdrawals_in_its_period_including_this_one(evaluate, code, period, existing, refused):
    evaluation = evaluate(counts={period: existing})

    assert ("limit_exceeded" if refused else "") == evaluation.refusal_code
    assert evaluation.outcome == ("reject" if refused else "allow")
    assert hit_codes(evaluation) == ([code] if refused else [])


def test_a_count_hit_reports_the_count_with_this_withdrawal_and_the_limit(evaluate):
    evaluation = evaluate(counts={Period.HOUR: 3, Period.DAY: 3, Period.DAYS_30: 3})

    assert [(hit["rule"], hit["observed"], hit["limit"]) for hit in evaluation.hits] == [("hourly_count", "4", "3")]


@pytest.mark.parametrize(
    ("amount", "outcome", "approvals"), [("4999.99", "allow", 1), ("5000.00", "allow", 1), ("5000.01", "review", 1)]
)
def test_withdrawals_above_5000_00_go_to_review(evaluate, amount, outcome, approvals):
    evaluation = evaluate(amount)

    assert (evaluation.outcome, evaluation.approvals_required) == (outcome, approvals)
    assert ("large_amount_review" in hit_codes(evaluation)) is (outcome == "review")
    assert evaluation.refusal_code == ""


@pytest.mark.parametrize(("amount", "approvals"), [("7999.99", 1), ("8000.00", 2), ("8000.01", 2)])
def test_from_8000_00_a_withdrawal_needs_two_approvals(evaluate, amount, approvals):
    evaluation = evaluate(amount)

    assert (evaluation.outcome, evaluation.approvals_required) == ("review", approvals)
    assert ("four_eyes" in hit_codes(evaluation)) is (approvals == 2)


def test_four_eyes_alone_still_sends_to_review_with_two_approvals(evaluate):
    set_rule("large_amount_review", enabled=False)

    evaluation = evaluate("8000.00")

    assert (evaluation.outcome, evaluation.approvals_required, hit_codes(evaluation)) == ("review", 2, ["four_eyes"])


def test_an_inactive_user_is_refused_as_risk_rejected(evaluate, make_user):
    evaluation = evaluate(user=make_user(is_active=False))

    assert (evaluation.outcome, evaluation.refusal_code) == ("reject", "risk_rejected")
    assert [(hit["rule"], hit["observed"]) for hit in evaluation.hits] == [("user_blocked", "inactive user")]


def test_the_hour_and_30_days_roll_and_the_day_starts_at_local_midnight():
    now = local(0, 30)

    starts = period_starts(now)

    assert starts == {
        Period.HOUR: now - timedelta(hours=1),
        Period.DAY: local(0, 0),
        Period.DAYS_30: now - timedelta(days=30),
    }


def test_the_day_starts_at_local_midnight_even_when_utc_is_still_on_the_day_before(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 on 3 March in Shanghai

    day_start = period_starts(now)[Period.DAY]

    assert day_start == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert day_start.utcoffset() == timedelta(hours=8)
