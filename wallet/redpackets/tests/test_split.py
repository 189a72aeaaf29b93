"""The split as properties: bounds, exact sums, a cent at least, fair positions."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.errors import ValidationFailed
from wallet.redpackets.split import CENT, split_equal, split_lucky


@st.composite
def amounts_and_counts(draw) -> tuple[Decimal, int]:
    count = draw(st.integers(min_value=1, max_value=100))
    cents = draw(st.integers(min_value=count, max_value=20_000))
    return CENT * cents, count


@given(amounts_and_counts())
def test_lucky_shares_are_count_many_at_least_a_cent_and_sum_exactly_to_the_amount(case):
    amount, count = case

    shares = split_lucky(amount, count)

    assert len(shares) == count
    assert sum(shares) == amount
    assert all(share >= CENT and share == share.quantize(CENT) for share in shares)


@given(amounts_and_counts())
def test_each_lucky_share_but_the_last_is_at_most_twice_the_average_of_what_remains(case):
    amount, count = case

    shares = split_lucky(amount, count)

    remaining = amount
    for left, share in zip(range(count, 1, -1), shares, strict=False):
        assert share <= 2 * remaining / left
        remaining -= share
    assert shares[-1] == remaining


def test_every_position_gets_the_average_in_expectation():
    # Given 20,000 splits of 10.00 into 10 shares (the average share is 1.00)
    draws = 20_000
    splits = [split_lucky(Decimal("10.00"), 10) for _ in range(draws)]

    # Then each position's mean is within six standard errors of 1.00, plus one cent for the
    # rounding down of each bound to whole cents (a known bias of at most half a cent). A
    # correct split fails this about once in 10^8 runs; a split that favours early or late
    # positions (the naive "uniform in what remains") misses by tens of cents.
    for position in range(10):
        values = [float(split[position]) for split in splits]
        mean = sum(values) / draws
        deviation = math.sqrt(sum((v - mean) ** 2 for v in values) / (draws - 1))
        assert abs(mean - 1.00) < 6 * deviation / math.sqrt(draws) + 0.01, (position, mean)


@given(amounts_and_counts())
def test_equal_shares_are_equal_when_the_amount_divides_into_whole_cents(case):
    amount, count = case
    amount = CENT * count * int(amount / CENT // count)

    shares = split_equal(amount, count)

    assert shares == [amount / count] * count
    assert sum(shares) == amount


def test_an_equal_split_with_a_remainder_is_refused_not_rounded():
    with pytest.raises(ValidationFailed) as refused:
        split_equal(Decimal("10.00"), 3)

    assert refused.value.fields == {"amount": "not_divisible"}


@pytest.mark.parametrize("split", [split_lucky, split_equal])
def test_less_than_a_cent_per_share_is_refused(split):
    with pytest.raises(ValidationFailed) as refused:
        split(Decimal("0.09"), 10)

    assert refused.value.fields == {"amount": "below_a_cent_per_share"}


def test_a_single_share_takes_the_whole_amount():
    assert split_lucky(Decimal("8.88"), 1) == [Decimal("8.88")]
