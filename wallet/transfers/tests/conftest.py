"""Fixtures of the transfer tests: a sender with money, a recipient, and sending as the API does."""

from decimal import Decimal

import pytest

from wallet.transfers import services


@pytest.fixture
def send():
    """Send through the service with a fresh key each call unless one is given."""
    keys = iter(range(1, 1_000_000))

    def send(sender, recipient=None, amount: str | None = "10.00", *, key: str | None = None, **extra):
        return services.transfer_send(
            sender=sender,
            recipient=recipient,
            amount=None if amount is None else Decimal(amount),
            idempotency_key=key or f"key-{next(keys)}",
            **extra,
        ).transfer

    return send


@pytest.fixture
def sender(make_user, funded_account):
    user = make_user("sender")
    funded_account(user, "100000.00")
    return user


@pytest.fixture
def recipient(make_user):
    return make_user("recipient")
