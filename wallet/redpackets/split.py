"""How a packet's amount is cut into shares, in whole cents (docs/WALLET.md, "The split").

Lucky ("double average"): each share is uniform in [1 cent, 2 x remaining / shares left],
capped so every later share can still get a cent; the last share takes the rest. Each position
then gets the average in expectation, and no share is 0. Equal: the amount must divide into
``count`` equal shares of whole cents; a remainder is refused, not hidden in one share.
"""

import secrets
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from wallet import errors

CENT = Decimal("0.01")


def split_lucky(amount: Decimal, count: int) -> list[Decimal]:
    """``count`` random shares of at least 0.01 summing exactly to ``amount``."""
    remaining = _cents(amount, count)
    shares = []
    for left in range(count, 1, -1):
        upper = min(2 * remaining // left, remaining - (left - 1))
        share = 1 + secrets.randbelow(upper)
        shares.append(share)
        remaining -= share
    shares.append(remaining)
    return [CENT * share for share in shares]


def split_equal(amount: Decimal, count: int) -> list[Decimal]:
    """``count`` shares of ``amount / count``, which must be whole cents."""
    cents = _cents(amount, count)
    share, remainder = divmod(cents, count)
    if remainder:
        raise errors.ValidationFailed(
            _("%(amount)s does not divide into %(count)s equal shares of whole cents.")
            % {"amount": amount, "count": count},
            fields={"amount": "not_divisible"},
        )
    return [CENT * share] * count


def _cents(amount: Decimal, count: int) -> int:
    if count < 1:
        raise errors.ValidationFailed(_("A red packet has at least one share."), fields={"count": "invalid"})
    cents = amount / CENT
    if cents != cents.to_integral_value() or cents < count:
        raise errors.ValidationFailed(
            _("%(amount)s cannot give %(count)s shares of at least 0.01.") % {"amount": amount, "count": count},
            fields={"amount": "below_a_cent_per_share"},
        )
    return int(cents)
