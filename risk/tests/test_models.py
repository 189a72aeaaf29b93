"""A rule has exactly the parameters of its kind: full_clean says which, the database insists."""

from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from risk.models import RiskRule

pytestmark = pytest.mark.django_db

VALID: dict[str, dict[str, Any]] = {
    "amount_min": {"amount": Decimal("1.00")},
    "amount_max": {"amount": Decimal("10000.00")},
    "amount_review": {"amount": Decimal("5000.00"), "action": "review"},
    "four_eyes": {"amount": Decimal("8000.00"), "action": "review"},
    "count_limit": {"count": 5, "period": "day"},
    "amount_limit": {"amount": Decimal("50000.00"), "period": "day"},
    "user_blocked": {},
    "payout_account_blocked": {},
    "window": {"closed_from": time(19), "closed_until": time(1)},
    "rollout": {"percent": 50},
}


def new_rule(kind: str, **fields) -> RiskRule:
    return RiskRule(code=f"test-{kind}", kind=kind, priority=100, message="Test.", **{**VALID[kind], **fields})


@pytest.mark.parametrize("kind", VALID)
def test_a_rule_with_exactly_the_parameters_of_its_kind_is_valid_and_saves(kind):
    rule = new_rule(kind)

    rule.full_clean()
    rule.save()

    assert RiskRule.objects.filter(code=f"test-{kind}").exists()


@pytest.mark.parametrize(
    ("kind", "fields", "error_field"),
    [
        ("amount_max", {"amount": None}, "amount"),
        ("count_limit", {"period": None}, "period"),
        ("count_limit", {"count": None}, "count"),
        ("amount_limit", {"period": None}, "period"),
        ("window", {"closed_until": None}, "closed_until"),
        ("rollout", {"percent": None}, "percent"),
        ("amount_max", {"count": 3}, "count"),
        ("user_blocked", {"amount": Decimal("1.00")}, "amount"),
        ("rollout", {"closed_from": time(19)}, "closed_from"),
    ],
    ids=[
        "amount_max-without-amount",
        "count_limit-without-period",
        "count_limit-without-count",
        "amount_limit-without-period",
        "window-without-end",
        "rollout-without-percent",
        "amount_max-with-count",
        "user_blocked-with-amount",
        "rollout-with-time",
    ],
)
def test_a_missing_or_foreign_parameter_is_a_validation_error_and_the_database_refuses_it(kind, fields, error_field):
    rule = new_rule(kind, **fields)

    with pytest.raises(ValidationError) as invalid:
        rule.full_clean()
    with pytest.raises(IntegrityError, match="risk_rule_parameters_match_kind"), transaction.atomic():
        rule.save()

    assert error_field in invalid.value.message_dict


@pytest.mark.parametrize(
    ("kind", "fields", "error_field", "constraint"),
    [
        ("rollout", {"percent": 101}, "percent", "risk_rule_percent_range"),
        ("amount_max", {"amount": Decimal("0.00")}, "amount", "risk_rule_amount_positive"),
        ("amount_min", {"amount": Decimal("-1.00")}, "amount", "risk_rule_amount_positive"),
        ("window", {"closed_from": time(19), "closed_until": time(19)}, "closed_until", "risk_rule_window_not_empty"),
        ("four_eyes", {"action": "reject"}, "action", "risk_rule_review_only_kinds"),
        ("amount_review", {"action": "reject"}, "action", "risk_rule_review_only_kinds"),
    ],
    ids=["percent-101", "amount-zero", "amount-negative", "empty-window", "four-eyes-reject", "review-reject"],
)
def test_out_of_range_parameters_are_refused_by_full_clean_and_the_database(kind, fields, error_field, constraint):
    rule = new_rule(kind, **fields)

    with pytest.raises(ValidationError) as invalid:
        rule.full_clean()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        rule.save()

    assert error_field in invalid.value.message_dict


@pytest.mark.parametrize("percent", [0, 100])
def test_a_rollout_percent_from_0_to_100_is_valid(percent):
    new_rule("rollout", percent=percent).full_clean()


def test_a_count_limit_of_zero_closes_the_period_and_is_valid():
    new_rule("count_limit", count=0).full_clean()


def test_a_review_rule_of_any_limit_kind_may_review_instead_of_reject():
    new_rule("amount_max", action="review").full_clean()
