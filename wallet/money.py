"""The one place that parses, quantizes and rounds money (docs/ARCHITECTURE.md §3).

Amounts are `Decimal` with two places. Input is parsed strictly: anything that is not a plain
positive decimal with at most two places is refused, never rounded.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# NUMERIC(18,2): 16 integer digits at most.
MAX_DIGITS = 18
DECIMAL_PLACES = 2

# ASCII digits only: Python's \d also matches "１２" and "١٢", which Decimal would accept.
_PLAIN_AMOUNT = re.compile(r"^\d{1,16}(\.\d{1,2})?$", re.ASCII)


class AmountError(ValueError):
    """An amount that is not acceptable as money; the message says why."""


def parse_amount(raw: object, *, maximum: Decimal | None = None) -> Decimal:
    """Parse a wire amount such as ``"12.34"`` into a positive two-place Decimal.

    Takes exactly what the API schema describes: a string of ASCII digits with at most two
    decimals. Refuses numbers (a float is already inexact), blanks around it, exponents, NaN,
    Infinity, signs, zero, more than two decimals and values above ``maximum``.
    """
    if raw is None or raw == "":
        raise AmountError(_("An amount is required."))
    if not isinstance(raw, str):
        raise AmountError(_('Send the amount as a string such as "12.34".'))
    text = raw
    if text != text.strip():
        raise AmountError(_('Not a valid amount: no spaces around it; send "12.34".'))
    if not _PLAIN_AMOUNT.match(text):
        if re.match(r"^\d+\.\d{3,}$", text, re.ASCII):
            raise AmountError(_("At most 2 decimal places are allowed."))
        if re.match(r"^\d{17,}(\.\d*)?$", text, re.ASCII):
            raise AmountError(_("The amount is too large."))
        raise AmountError(_('Not a valid amount; use a plain decimal such as "12.34".'))
    amount = Decimal(text).quantize(CENT)
    if amount <= ZERO:
        raise AmountError(_("The amount must be greater than 0."))
    if maximum is not None and amount > maximum:
        raise AmountError(_("The amount must not exceed %(maximum)s.") % {"maximum": format_amount(maximum)})
    return amount


def quantize(value: Decimal) -> Decimal:
    """Round a computed value (a fee, a share) to cents, half up."""
    try:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise AmountError(_("Not a finite amount: %(value)s") % {"value": repr(value)}) from exc


def is_cents(value: Decimal) -> bool:
    """True when ``value`` is finite and already has at most two decimal places."""
    return value.is_finite() and value == value.quantize(CENT)


def is_positive_cents(value: object) -> bool:
    """True for a positive ``Decimal`` with at most two places: what services take as money."""
    return isinstance(value, Decimal) and is_cents(value) and value > ZERO


def format_amount(value: Decimal) -> str:
    """Money as the API and exports show it: ``"12.30"``."""
    return str(value.quantize(CENT))


def display_amount(value: Decimal, symbol: str = "¥") -> str:
    """Money as people read it in the admin and notifications: ``"¥1,234.50"``, ``"-¥12.30"``."""
    quantized = value.quantize(CENT)
    sign = "-" if quantized < ZERO else ""
    return f"{sign}{symbol}{abs(quantized):,}"
