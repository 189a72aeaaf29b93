"""How the approval queue shows an order: risk badges, waiting times, the risk inputs table."""

from datetime import UTC, datetime, timedelta

import pytest

from payments.withdrawals.queue_display import (
    RiskBadge,
    compact_number,
    order_cell,
    risk_badges,
    risk_input_rows,
    waiting_time,
)

REVIEW = {
    "rule": "large_amount_review",
    "kind": "amount_review",
    "action": "review",
    "message": "Withdrawals above 5,000.00 are reviewed by finance staff.",
    "observed": "9900.00",
    "limit": "5000.00",
}
FOUR_EYES = {
    "rule": "four_eyes",
    "kind": "four_eyes",
    "action": "review",
    "message": "Withdrawals of 8,000.00 or more need two approvals.",
    "observed": "9999.99",
    "limit": "8000.00",
}
HOURLY = {
    "rule": "hourly_count",
    "kind": "count_limit",
    "action": "review",
    "message": "At most 3 withdrawals an hour. Please try again later.",
    "observed": "4",
    "limit": "3",
}


def test_each_fired_rule_becomes_a_short_badge_with_its_full_sentence_kept_for_the_hover():
    assert risk_badges([REVIEW, FOUR_EYES, HOURLY]) == [
        RiskBadge("amount 9,900 > 5,000", REVIEW["message"], "review"),
        RiskBadge("four eyes 9,999.99 ≥ 8,000", FOUR_EYES["message"], "four-eyes"),
        RiskBadge("orders 4 > 3", HOURLY["message"], "review"),
    ]


def test_a_rejecting_rule_is_a_reject_badge_and_a_blocked_user_needs_no_numbers():
    blocked = {**REVIEW, "kind": "user_blocked", "action": "reject", "observed": "blocklisted: fraud", "limit": ""}

    assert risk_badges([blocked]) == [RiskBadge("user blocked", REVIEW["message"], "reject")]


def test_a_rule_kind_the_screen_does_not_know_shows_its_code_and_values():
    unknown = {**REVIEW, "rule": "night_owl", "kind": "night_owl", "observed": "23:10", "limit": "23:00"}

    assert risk_badges([unknown])[0].label == "night_owl 23:10 23:00"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("9900.00", "9,900"), ("9999.99", "9,999.99"), ("50000.5", "50,000.50"), ("4", "4"), ("19:30:00", "19:30:00")],
)
def test_numbers_in_badges_have_thousands_separators_and_cents_only_when_there_are_any(stored, shown):
    assert compact_number(stored) == shown


@pytest.mark.parametrize(
    ("waited", "shown"),
    [
        (timedelta(seconds=40), "< 1 min"),
        (timedelta(minutes=12, seconds=59), "12 min"),
        (timedelta(hours=2, minutes=14), "2 h 14 min"),
        (timedelta(hours=23, minutes=59, seconds=59), "23 h 59 min"),
        (timedelta(days=3, hours=4, minutes=50), "3 d 4 h"),
        (timedelta(seconds=-5), "< 1 min"),
    ],
)
def test_the_waiting_time_reads_in_the_two_largest_units_rounded_down(waited, shown):
    assert waiting_time(waited) == shown


def test_the_risk_inputs_read_as_labelled_rows_in_local_time_without_the_blind_index():
    inputs = {
        "user_id": 42,
        "user_active": True,
        "amount": "9900.00",
        "payout_fingerprint": "5f2c0e9a",
        "counts": {"hour": 3, "day": 4, "days_30": 12},
        "amounts": {"hour": "300.00", "day": "1450.00", "days_30": "23456.78"},
        "now": "2026-12-07T10:07:45.123456+00:00",
    }

    assert risk_input_rows(inputs) == [
        ("User id", "42"),
        ("User active", "yes"),
        ("Amount", "¥9,900.00"),
        ("Earlier orders, last hour", "3"),
        ("Earlier orders, today", "4"),
        ("Earlier orders, 30 days", "12"),
        ("Earlier amount not released, last hour", "¥300.00"),
        ("Earlier amount not released, today", "¥1,450.00"),
        ("Earlier amount not released, 30 days", "¥23,456.78"),
        ("Evaluated at", "2026-12-07 18:07:45 CST"),
    ]


@pytest.mark.django_db
def test_the_order_cell_shows_how_long_a_pending_order_has_waited_and_nothing_once_decided(withdrawal_in):
    pending, approved = withdrawal_in("pending"), withdrawal_in("approved")
    later = pending.created_at + timedelta(hours=26, minutes=5)

    cell = order_cell(pending, url="/order", now=later)

    assert 'class="queue-wait queue-wait--long"' in cell
    assert ">1 d 2 h</span>" in cell
    assert "queue-wait" not in order_cell(approved, url="/order", now=datetime.now(UTC))
