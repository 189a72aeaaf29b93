"""``{% load money %}`` and ``{{ amount|cny }}``: amounts in templates as ``¥1,234.50``."""

from decimal import Decimal

from django import template

from wallet.money import display_amount

register = template.Library()


@register.filter
def cny(value: Decimal | None) -> str:
    """An empty string for a missing amount, so a template shows nothing rather than ``None``."""
    return "" if value is None else display_amount(Decimal(value))
