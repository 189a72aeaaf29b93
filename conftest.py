"""Shared fixtures: users, staff, accounts and API and admin clients on the real test database."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app as celery_app
from wallet import services

# Headless Chromium for the admin's browser tests (installed by the fixture when missing).
pytest_plugins = ["config.tests.browser"]


def pytest_collection_modifyitems(items):
    """Transactional tests start from the rows data migrations create (staff groups, risk
    rules, channels, schedules), not from the empty tables the previous one's flush left.

    All of them, not some: a flush without serialized rollback re-creates content types through
    post_migrate, which would then collide with the ones a later test restores.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            restored = pytest.mark.django_db(*marker.args, **{**marker.kwargs, "serialized_rollback": True})
            item.add_marker(restored, append=False)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per user; tests hash only throwaway passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(django_user_model):
    counter = iter(range(1, 1_000_000))

    def make(username: str | None = None, **extra):
        return django_user_model.objects.create_user(
            username=username or f"user{next(counter)}", password="pw-for-tests-only", **extra
        )

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def funded_account():
    """A user's wallet credited from ``clearing:test`` with ``amount``; every call credits again."""
    calls = iter(range(1, 1_000_000))

    def fund(user, amount: str, *, key: str | None = None):
        account = services.account_for_user(user=user)
        clearing = services.account_for_system(code="clearing:test")
        services.transfer_post(
            idempotency_key=key or f"fund:{account.pk}:{next(calls)}",
            kind="recharge",
            legs=[services.Leg(clearing, -Decimal(amount)), services.Leg(account, Decimal(amount))],
        )
        account.refresh_from_db()
        return account

    return fund


@pytest.fixture
def api_client_for():
    def client_for(user) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def staff_in(make_user):
    """A staff user in the named group of DESIGN §10 (the groups come from migrations)."""

    def make(group_name: str, username: str | None = None):
        user = make_user(username, is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        return user

    return make


@pytest.fixture
def client_for():
    """A Django test client logged in as the user, for admin pages."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def sent_tasks(monkeypatch) -> list[tuple[str, list]]:
    """Tasks queued by name (wallet.task_queue), recorded as ``(name, args)`` instead of sent:
    the broker is the outside world here."""
    sent: list[tuple[str, list]] = []

    def send_task(name: str, args=None, kwargs=None, **options) -> None:
        sent.append((name, list(args or ())))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent
