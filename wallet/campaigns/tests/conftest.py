"""Campaigns, platform services and the budget counters the tests of campaigns start from."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone
from django_redis import get_redis_connection

from wallet.campaigns import services


@pytest.fixture(autouse=True)
def budget_counters_cleared():
    """The test database is new on every run, its campaign ids start again: so must the counters."""
    _counters_delete()
    yield
    _counters_delete()


def _counters_delete() -> None:
    redis = get_redis_connection("default")
    for key in redis.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*campaigns:*"):
        redis.delete(key)


@pytest.fixture
def make_campaign(make_user):
    staff: list = []

    def make(name: str = "spring", budget: str = "1000.00", **terms):
        if not staff:
            staff.append(make_user("campaign-manager", is_staff=True))
        now = timezone.now()
        return services.campaign_create(
            name=name,
            title=terms.pop("title", f"{name.title()} festival"),
            budget_amount=Decimal(budget),
            starts_at=terms.pop("starts_at", now - timedelta(hours=1)),
            ends_at=terms.pop("ends_at", now + timedelta(hours=1)),
            actor=staff[0],
        )

    return make


@pytest.fixture
def reward_service(make_user):
    """A platform service's account, in the reward_service role (config/roles.py)."""
    service = make_user("red-packet-rain")
    service.groups.add(Group.objects.get(name="reward_service"))
    return service
