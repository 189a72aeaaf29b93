"""Shared fixtures: users, accounts and API clients on the real test database."""

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from wallet import services


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
