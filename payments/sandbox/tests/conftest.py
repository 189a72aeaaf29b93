"""Fixtures of the sandbox's tests."""

import pytest
import time_machine

from payments.sandbox import bills
from payments.sandbox.tests.bill_helpers import NEXT_MORNING


@pytest.fixture(autouse=True)
def bill_store(tmp_path, monkeypatch):
    """Bills behind download links go to the test's own directory, gone with it."""
    monkeypatch.setattr(bills, "STORE", tmp_path / "bills")


@pytest.fixture
def next_morning():
    """The morning after the bills' day, China time; the clock runs on (records travel to their
    own times and come back)."""
    with time_machine.travel(NEXT_MORNING, tick=True):
        yield
