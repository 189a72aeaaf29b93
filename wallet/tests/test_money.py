"""Strict money parsing: refuse, never round."""

from decimal import Decimal

import pytest

from wallet.money import AmountError, display_amount, format_amount, parse_amount, quantize
from wallet.templatetags.money import cny


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.34", "12.34"), ("12.3", "12.30"), ("7", "7.00"), ("0.01", "0.01"), ("0000.50", "0.50")],
)
def test_plain_positive_decimals_parse_to_two_places(raw, expected):
    assert parse_amount(raw) == Decimal(expected)
    assert format_amount(parse_amount(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1.001", "2 decimal places"),
        ("NaN", "valid amount"),
        ("Infinity", "valid amount"),
        ("-1", "valid amount"),
        ("+1", "valid amount"),
        ("0", "greater than 0"),
        ("0.00", "greater than 0"),
        ("1e3", "valid amount"),
        ("1" + "0" * 20, "too large"),
        ("abc", "valid amount"),
        ("1,000.00", "valid amount"),
        ("１２", "valid amount"),  # full-width digits: \d matches them, Decimal would take them
        ("١٢.٥", "valid amount"),
        ("", "required"),
        (None, "required"),
        (1.5, "string"),
        (True, "string"),
        (5, "string"),  # the schema says a string; a JSON number is refused, not read
        (Decimal("2.5"), "string"),
        (" 1.00 ", "no spaces"),
        ("1.00 ", "no spaces"),
        ("\t1.00", "no spaces"),
        ("1.00\n", "no spaces"),
        ("\u00a01.00", "no spaces"),
    ],
)
def test_anything_else_is_refused_with_a_reason(raw, reason):
    with pytest.raises(AmountError, match=reason):
        parse_amount(raw)


def test_the_configured_maximum_is_enforced():
    assert parse_amount("100.00", maximum=Decimal("100.00")) == Decimal("100.00")
    with pytest.raises(AmountError, match="exceed"):
        parse_amount("100.01", maximum=Decimal("100.00"))


def test_computed_values_round_half_up_to_cents():
    assert quantize(Decimal("0.005")) == Decimal("0.01")
    assert quantize(Decimal("0.0049")) == Decimal("0.00")
    assert quantize(Decimal("2.675")) == Decimal("2.68")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1234.5", "¥1,234.50"),
        ("0", "¥0.00"),
        ("9876543.21", "¥9,876,543.21"),
        ("-12.3", "-¥12.30"),
        ("-0.001", "¥0.00"),
    ],
)
def test_amounts_are_shown_with_the_yuan_sign_and_thousands_separators(value, shown):
    assert display_amount(Decimal(value)) == shown
    assert cny(Decimal(value)) == shown


def test_a_missing_amount_shows_as_nothing():
    assert cny(None) == ""
