"""Every evaluation is stored with its facts and hits; all rules run; priority decides."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction

from risk import services
from risk.kinds import Period
from risk.models import RiskEvaluation, RiskRule
from risk.rules import WithdrawalFacts
from risk.tests.support import FINGERPRINT, hit_codes, local, set_rule

pytestmark = pytest.mark.django_db


def test_an_allowed_withdrawal_is_stored_with_its_facts_and_no_hits(facts_for, make_user):
    user = make_user()
    facts = facts_for(
        "120.00",
        user=user,
        counts={Period.HOUR: 0, Period.DAY: 1, Period.DAYS_30: 4},
        amounts={Period.HOUR: "0.00", Period.DAY: "50.00", Period.DAYS_30: "300.00"},
        now=local(10, 15),
    )

    evaluation = services.withdrawal_risk_evaluate(facts=facts)

    stored = RiskEvaluation.objects.get(pk=evaluation.pk)
    assert (stored.user, stored.amount, stored.outcome) == (user, Decimal("120.00"), "allow")
    assert (stored.approvals_required, stored.refusal_code, stored.refusal_message) == (1, "", "")
    assert (stored.hits, stored.reasons) == ([], [])
    assert stored.inputs == {
        "user_id": user.pk,
        "user_active": True,
        "amount": "120.00",
        "payout_fingerprint": FINGERPRINT,
        "counts": {"hour": 0, "day": 1, "days_30": 4},
        "amounts": {"hour": "0.00", "day": "50.00", "days_30": "300.00"},
        "now": local(10, 15).isoformat(),
    }
    assert stored.created_at is not None


def test_a_review_is_stored_with_its_hits_and_reasons_and_no_refusal(evaluate):
    evaluation = evaluate("9000.00")

    stored = RiskEvaluation.objects.get(pk=evaluation.pk)
    assert (stored.outcome, stored.approvals_required, stored.refusal_code) == ("review", 2, "")
    assert hit_codes(stored) == ["large_amount_review", "four_eyes"]
    assert stored.reasons == [
        "Withdrawals above 5,000.00 are reviewed by finance staff.",
        "Withdrawals of 8,000.00 or more need two approvals.",
    ]


def test_a_rejection_still_lists_every_hit_in_priority_order(evaluate, make_user):
    evaluation = evaluate(
        "10000.01",
        user=make_user(is_active=False),
        counts={Period.HOUR: 3, Period.DAY: 5, Period.DAYS_30: 20},
        amounts={Period.DAY: "45000.00", Period.DAYS_30: "45000.00"},
    )

    assert (evaluation.outcome, evaluation.approvals_required) == ("reject", 0)
    assert hit_codes(evaluation) == [
        "user_blocked",
        "single_max",
        "daily_amount",
        "daily_count",
        "hourly_count",
        "monthly_count",
        "large_amount_review",
        "four_eyes",
    ]
    assert [hit["action"] for hit in evaluation.hits] == ["reject"] * 6 + ["review"] * 2
    assert len(evaluation.reasons) == 8


def test_the_refusal_comes_from_the_rejecting_rule_with_the_lowest_priority_number(evaluate, make_user):
    blocked_and_too_large = {"amount": "10000.01", "user": make_user(is_active=False)}
    first = evaluate(**blocked_and_too_large)

    set_rule("single_max", priority=1)
    second = evaluate(**blocked_and_too_large)

    assert (first.refusal_code, first.refusal_message) == (
        "risk_rejected",
        "Withdrawals are not possible for this account. Please contact support.",
    )
    assert (second.refusal_code, second.refusal_message) == (
        "limit_exceeded",
        "A single withdrawal cannot exceed 10,000.00.",
    )
    assert hit_codes(second)[0] == "single_max"


def test_between_rules_of_the_same_priority_the_older_rule_decides(evaluate):
    set_rule("daily_count", priority=20)
    set_rule("single_max", message="Too large.")
    set_rule("daily_count", message="Too many.")

    evaluation = evaluate("10000.01", counts={Period.DAY: 5})

    assert RiskRule.objects.get(code="single_max").pk < RiskRule.objects.get(code="daily_count").pk
    assert evaluation.refusal_message == "Too large."


def test_disabled_rules_never_hit(evaluate, make_user):
    RiskRule.objects.update(enabled=False)

    evaluation = evaluate(
        "0.50", user=make_user(is_active=False), counts={Period.HOUR: 99, Period.DAY: 99, Period.DAYS_30: 99}
    )

    assert (evaluation.outcome, evaluation.hits, evaluation.approvals_required) == ("allow", [], 1)


def test_a_disabled_review_rule_lets_large_withdrawals_through_automatically(evaluate):
    set_rule("large_amount_review", enabled=False)
    set_rule("four_eyes", enabled=False)

    assert evaluate("9000.00").outcome == "allow"


def test_changing_a_limit_applies_to_the_next_evaluation(evaluate):
    assert evaluate("2000.00").outcome == "allow"

    set_rule("single_max", amount=Decimal("1999.99"))

    assert evaluate("2000.00").refusal_code == "limit_exceeded"


def test_an_evaluation_reads_rules_and_blocklist_and_writes_one_row(facts_for, django_assert_num_queries):
    facts = facts_for("9000.00")

    with django_assert_num_queries(3):
        services.withdrawal_risk_evaluate(facts=facts)


def test_facts_need_an_aware_now_and_every_period(facts_for):
    facts = facts_for()

    with pytest.raises(ValueError, match="aware"):
        replace(facts, now=local(10).replace(tzinfo=None))
    with pytest.raises(ValueError, match="days_30"):
        replace(facts, counts={Period.HOUR: 0, Period.DAY: 0})


def test_plain_string_period_keys_work_like_period_members(make_user):
    user = make_user()
    facts = WithdrawalFacts(
        user_id=user.pk,
        user_active=True,
        amount=Decimal("10.00"),
        payout_fingerprint=FINGERPRINT,
        counts={"hour": 0, "day": 5, "days_30": 5},
        amounts={"hour": Decimal("0"), "day": Decimal("0"), "days_30": Decimal("0")},
        now=local(10),
    )

    evaluation = services.withdrawal_risk_evaluate(facts=facts)

    assert hit_codes(evaluation) == ["daily_count"]


@pytest.mark.parametrize(
    "sql",
    ["UPDATE risk_riskevaluation SET outcome = 'allow' WHERE id = %s", "DELETE FROM risk_riskevaluation WHERE id = %s"],
    ids=["update", "delete"],
)
def test_stored_evaluations_cannot_be_changed_or_deleted(evaluate, sql):
    evaluation = evaluate("0.50")

    with pytest.raises(DatabaseError, match="Cannot"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [evaluation.pk])

    assert RiskEvaluation.objects.get(pk=evaluation.pk).outcome == "reject"


# Rule changes


def test_operations_cannot_remove_four_eyes_or_raise_the_review_threshold(staff_in, facts_for):
    # Given an operator who tries what would let a 9,900.00 withdrawal through unreviewed
    operator = staff_in("operations")
    for code, changes in (("four_eyes", {"enabled": False}), ("large_amount_review", {"amount": Decimal("9999999")})):
        with pytest.raises(PermissionDenied, match=code):
            services.rule_change(rule=RiskRule.objects.get(code=code), actor=operator, changes=changes)

    # Then the withdrawal still needs two approvals
    evaluation = services.withdrawal_risk_evaluate(facts=facts_for("9900.00"))
    assert (evaluation.outcome, evaluation.approvals_required) == ("review", 2)


def test_operations_switch_the_window_and_a_supervisor_changes_any_rule(staff_in):
    window = services.rule_change(
        rule=RiskRule.objects.get(code="withdrawal_window"), actor=staff_in("operations"), changes={"enabled": True}
    )
    four_eyes = services.rule_change(
        rule=RiskRule.objects.get(code="four_eyes"),
        actor=staff_in("finance_supervisor"),
        changes={"amount": Decimal("7000.00")},
    )

    assert RiskRule.objects.get(pk=window.pk).enabled is True
    assert RiskRule.objects.get(pk=four_eyes.pk).amount == Decimal("7000.00")


def test_a_change_that_does_not_fit_the_rule_changes_nothing(staff_in):
    rollout = RiskRule.objects.get(code="staged_rollout")

    with pytest.raises(ValidationError):
        services.rule_change(rule=rollout, actor=staff_in("operations"), changes={"percent": 101, "enabled": True})

    assert (RiskRule.objects.get(pk=rollout.pk).percent, RiskRule.objects.get(pk=rollout.pk).enabled) == (100, False)
