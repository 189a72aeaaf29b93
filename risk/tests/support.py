"""Helpers of the risk tests."""

from datetime import datetime

from django.utils import timezone

from risk.models import RiskEvaluation, RiskRule

FINGERPRINT = "a" * 64


def local(hour: int, minute: int = 0, second: int = 0, microsecond: int = 0, *, day: int = 2) -> datetime:
    """An aware datetime on 2026-03-<day> in settings.TIME_ZONE."""
    return datetime(2026, 3, day, hour, minute, second, microsecond, tzinfo=timezone.get_default_timezone())


def hit_codes(evaluation: RiskEvaluation) -> list[str]:
    return [hit["rule"] for hit in evaluation.hits]


def rule(code: str) -> RiskRule:
    return RiskRule.objects.get(code=code)


def set_rule(code: str, **fields) -> None:
    """Change a rule row as operations would; the next evaluation reads it."""
    RiskRule.objects.filter(code=code).update(**fields)
