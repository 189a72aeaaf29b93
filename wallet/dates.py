"""Local calendar days as instants, for filters over indexed ``created_at`` columns."""

from datetime import date, datetime, time

from django.utils import timezone


def local_midnight(day: date) -> datetime:
    """The first instant of ``day`` in the current time zone (TIME_ZONE unless activated)."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
