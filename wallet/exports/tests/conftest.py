"""Export files go to the test's own directory, in this process and in a worker started by a test."""

from decimal import Decimal

import pytest

from payments.tests.worker import celery_broker, celery_worker_process, sandbox_live  # noqa: F401 - the browser test's worker
from wallet import services


@pytest.fixture(autouse=True)
def export_root(tmp_path, settings, monkeypatch):
    root = tmp_path / "exports"
    settings.EXPORT_ROOT = root
    monkeypatch.setenv("EXPORT_ROOT", str(root))
    return root


@pytest.fixture
def payments(make_user, funded_account):
    """Alice pays Bob three times, with Chinese memos; each payment is a transfer of two entries."""
    alice = funded_account(make_user("alice"), "2000.00")
    bob = funded_account(make_user("bob"), "1.00")
    for number, amount in enumerate(["1234.50", "2.00", "3.25"], start=1):
        services.transfer_post(
            idempotency_key=f"pay:{number}",
            kind="p2p",
            legs=[services.Leg(alice, -Decimal(amount)), services.Leg(bob, Decimal(amount))],
            memo=f"午饭 {number}",
        )
    return {"alice": alice, "bob": bob}
