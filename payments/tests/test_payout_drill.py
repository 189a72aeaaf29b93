"""`manage.py payout_drill` reports in words that match its numbers, shows progress while it
waits, and fails when an order is left unfinished or disagrees with the sandbox. The drill
against a real worker is in test_payouts.py."""

import re
import uuid

import pytest
from django.core.management import CommandError, call_command

from payments.management.commands import payout_drill
from payments.sandbox.models import SandboxHit, SandboxPayout, Scenario
from payments.withdrawals.models import Withdrawal
from wallet import progress

pytestmark = pytest.mark.django_db


@pytest.fixture
def drill_order(withdrawal_in):
    """A withdrawal in ``status`` here and, at the sandbox, a payout in ``sandbox_state`` (None:
    the sandbox took nothing) after ``requests`` requests."""

    def make(status: str, sandbox_state: str | None, requests: int = 1) -> Withdrawal:
        withdrawal = withdrawal_in(status)
        for _ in range(requests):
            SandboxHit.objects.create(protocol="bank", order_no=withdrawal.order_no)
        if sandbox_state is not None:
            SandboxPayout.objects.create(
                protocol="bank",
                order_no=withdrawal.order_no,
                channel_reference=f"SBX{uuid.uuid4().hex[:20]}",
                amount=withdrawal.amount,
                payee_masked="**** 3446",
                state=sandbox_state,
                scenario=Scenario.SUCCEED,
            )
        return withdrawal

    return make


def test_the_summary_counts_orders_the_sandbox_refused_or_never_took_apart_from_paid_ones(drill_order):
    # Given an order paid, one refused by the sandbox and one it never took (two timeouts)
    orders = [
        drill_order("success", "success").order_no,
        drill_order("failed", "failed").order_no,
        drill_order("failed", None, requests=2).order_no,
    ]

    # When the drill sums them up
    summary = payout_drill.drill_summary(orders)
    text = "\n".join(summary.lines(elapsed=12))

    # Then each side is counted in its own words, and every order agrees with the sandbox
    assert "After 12 s all 3 orders are final." in text
    assert "our orders: failed 2, success 1" in text
    assert "at the sandbox: paid 1, refused 1, took nothing 1" in text
    assert "requests the sandbox got per order: 1 request for 2 orders, 2 requests for 1 order" in text
    assert "final orders that agree with the sandbox: 3 of 3" in text
    assert "ledger audit: clean" in text
    assert summary.problems() == []


def test_an_order_failed_here_that_the_sandbox_paid_is_a_problem(drill_order):
    # Given an order we count as failed although the sandbox paid it
    order = drill_order("failed", "success").order_no

    # When the drill sums it up
    summary = payout_drill.drill_summary([order])

    # Then it names the order and the drill fails
    assert f"    disagrees: {order} is failed here, paid at the sandbox" in summary.lines(elapsed=1)
    assert summary.problems() == ["1 order(s) disagreeing with the sandbox"]


@pytest.mark.slow
def test_without_a_worker_the_drill_prints_progress_and_fails_on_the_orders_left_unfinished(monkeypatch, capsys):
    # Given no worker to pay the orders (their dispatch runs on commit, which never comes here)
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)

    # When the drill waits two seconds for two orders
    with pytest.raises(CommandError, match="2 order\\(s\\) not final"):
        call_command("payout_drill", count=2, mix="", timeout=2)

    # Then it said how far it got while waiting, and that the orders did not end
    out = capsys.readouterr().out
    assert "Submitted 2 withdrawals of 1.00" in out
    assert re.search(r"^  0/2 final, 2 approved, \d+ s$", out, re.MULTILINE), out
    assert "2 of 2 orders are still not final." in out
    assert "at the sandbox: took nothing 2" in out


def test_the_drill_says_why_a_channel_pays_real_money(settings):
    settings.SANDBOX_ENABLED = False

    with pytest.raises(CommandError, match=r"pays real money here \(SANDBOX_ENABLED is off\)"):
        call_command("payout_drill", count=5)

    assert not Withdrawal.objects.exists()
