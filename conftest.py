"""Shared fixtures: users, staff, accounts and API and admin clients on the real test database."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.test import Client
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import locales
from config.celery import app as celery_app
from config.tests.staff import otp_login
from wallet import services
from wallet.payment_password.models import PaymentPassword

# Every user made here has this payment password, and API clients send it
# (docs/WALLET.md, "Payment password"); the password's own tests take it off or change it.
PAYMENT_PASSWORD = "135790"

# Headless Chromium for the admin's browser tests (installed by the fixture when missing), and
# the test databases cloned from a template migrated once per set of migrations.
pytest_plugins = ["config.tests.browser", "config.tests.database"]


# Property tests: 40 examples each in make test; make check (HYPOTHESIS_PROFILE=check) tries fewer.
hypothesis_settings.register_profile("full", max_examples=40)
hypothesis_settings.register_profile("check", max_examples=8)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "full"))

# Fixtures that make a test ``live`` or ``browser``.
LIVE_FIXTURES = frozenset({"live_server", "sandbox_live", "celery_worker_process"})
BROWSER_FIXTURES = frozenset({"browser"})


def pytest_configure(config):
    """The translations are compiled before any test reads one, so plain ``pytest`` works too;
    on the xdist controller this runs before its workers start."""
    locales.messages_compile()


def pytest_collection_modifyitems(items):
    """Transactional tests start from the rows data migrations create (staff groups, risk
    rules, channels, schedules), not from the empty tables the previous one's flush left.

    All of them, not some: a flush without serialized rollback re-creates content types through
    post_migrate, which would then collide with the ones a later test restores.

    Tests that commit for real (transactional ones, and those on a live server or a worker) are
    marked ``live``, those that drive Chromium ``browser``: ``make check`` leaves them out.
    """
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & LIVE_FIXTURES:
            item.add_marker(pytest.mark.live)
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction"):
            item.add_marker(pytest.mark.live)
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
        user = django_user_model.objects.create_user(
            username=username or f"user{next(counter)}", password="pw-for-tests-only", **extra
        )
        PaymentPassword.objects.create(user=user, password=make_password(PAYMENT_PASSWORD))
        return user

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
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_PAYMENT_PASSWORD=PAYMENT_PASSWORD)
        return client

    return client_for


@pytest.fixture
def staff_in(make_user):
    """A staff user in the named group of docs/ARCHITECTURE.md §10 (the groups come from migrations)."""

    def make(group_name: str, username: str | None = None):
        user = make_user(username, is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        return user

    return make


@pytest.fixture
def client_for():
    """A Django test client logged in as the user, for admin pages, with the second factor
    given (docs/OPERATIONS.md, "Staff sign-in"): the session of a right password and code."""

    def make(user) -> Client:
        return otp_login(Client(), user)

    return make


@dataclass(frozen=True)
class SentTask:
    name: str
    args: list
    countdown: float | None = None


class SentTasks(list[SentTask]):
    """Tasks queued by name, in order; ``named(name)`` is a live view of one task's sends as
    ``{"args": [...], "countdown": ...}``."""

    def named(self, name: str) -> "SentTaskView":
        return SentTaskView(self, name)


class SentTaskView(Sequence[dict]):
    def __init__(self, sent: SentTasks, name: str) -> None:
        self._sent, self._name = sent, name

    def _items(self) -> list[dict]:
        return [{"args": task.args, "countdown": task.countdown} for task in self._sent if task.name == self._name]

    def __getitem__(self, index):
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._items() == list(other)

    __hash__ = None  # type: ignore[assignment]


@pytest.fixture
def sent_tasks(monkeypatch) -> SentTasks:
    """Tasks queued by name (wallet.task_queue), recorded instead of sent: the broker is the
    outside world here, and no worker reads it."""
    sent = SentTasks()

    def send_task(name: str, args=None, kwargs=None, countdown=None, **options) -> None:
        sent.append(SentTask(name, list(args or ()), countdown))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent
