"""Serializer fields for money: strict parsing in, two-place strings out (docs/ARCHITECTURE.md §3)."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wallet.money import AmountError, format_amount, parse_amount


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,16}(\.\d{1,2})?$", "example": "12.34"})
class MoneyField(serializers.Field):
    """A positive amount sent as a string such as ``"12.34"``; never rounded silently."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_amount(data, maximum=Decimal(settings.WALLET_MAX_AMOUNT))
        except AmountError as exc:
            self.fail("invalid", message=str(exc))

    def to_representation(self, value: Decimal) -> str:
        return format_amount(value)


@extend_schema_field(OpenApiTypes.STR)
class SignedMoneyField(serializers.Field):
    """A signed amount in output only (statement entries): ``"-12.30"``."""

    def to_representation(self, value: Decimal | None) -> str | None:
        return None if value is None else format_amount(value)
