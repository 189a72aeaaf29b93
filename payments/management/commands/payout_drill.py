"""A fire drill for the payout pipeline: N withdrawals through the sandbox with a chosen mix of
channel failures, on the running system (`make run`: web, worker and beat).

It refuses to run unless the bank channel goes to the sandbox. It tells the sandbox to misbehave
for the first requests (one rule per scenario, each used up after its share), creates a drill
user with money and a bank card, submits N withdrawals that the risk rules approve at once, and
waits until every order is final. Orders still processing after ``--sweep-after`` seconds are
asked about at the channel right away, as the ten-minute sweep would. It prints the final
states, what the sandbox saw per order, and the ledger audit.

    manage.py payout_drill --count 200 --mix fail=0.1,server_error=0.1,timeout=0.05,drop_response=0.1
"""

import time
import uuid
from collections import Counter
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from payments import services, tasks
from payments.channels import registry
from payments.channels.sandbox import engine
from payments.channels.sandbox.models import SandboxHit, SandboxPayout, Scenario
from payments.models import Channel, Withdrawal, WithdrawalStatus
from risk.models import RiskRule
from wallet import services as ledger
from wallet.audit import ledger_audit

AMOUNT = Decimal("1.00")
CHANNEL = "bank"  # the drill pays to a bank card, so its orders route to this channel
# A drill user may withdraw as often as the drill needs; other users keep the business limits.
COUNT_RULES = ("hourly_count", "daily_count", "monthly_count")
NON_FINAL = (WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING)


class Command(BaseCommand):
    help = "Push N withdrawals through the sandbox with a failure mix and report how they ended."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=100)
        parser.add_argument(
            "--mix",
            default="fail=0.1,server_error=0.1,timeout=0.05,drop_response=0.1,slow=0.05",
            help="scenario=share of the first requests, comma-separated; the rest succeed",
        )
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for final states")
        parser.add_argument("--sweep-after", type=float, default=30, help="query processing orders after this")

    def handle(self, *args, count: int, mix: str, timeout: float, sweep_after: float, **options):
        if not registry.is_sandboxed(Channel.objects.get(code=CHANNEL)):
            raise CommandError(f"the {CHANNEL} channel pays real money here: the drill runs on the sandbox only")
        shares = _parse_mix(mix)
        for scenario, share in shares.items():
            if remaining := round(count * share):
                engine.rule_add(protocol="bank", scenario=scenario, remaining=remaining, delay_seconds=_delay(scenario))
        enabled = list(RiskRule.objects.filter(code__in=COUNT_RULES, enabled=True).values_list("code", flat=True))
        RiskRule.objects.filter(code__in=enabled).update(enabled=False)
        try:
            orders = _submit(count)
        finally:
            RiskRule.objects.filter(code__in=enabled).update(enabled=True)
        self.stdout.write(f"Submitted {len(orders)} withdrawals of {AMOUNT}; waiting for final states …")
        started = time.monotonic()
        swept = False
        while Withdrawal.objects.filter(order_no__in=orders, status__in=NON_FINAL).exists():
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                break
            if elapsed > sweep_after and not swept:
                for withdrawal_id in Withdrawal.objects.filter(
                    order_no__in=orders, status=WithdrawalStatus.PROCESSING
                ).values_list("pk", flat=True):
                    tasks.withdrawal_check.delay(withdrawal_id)
                swept = True
            time.sleep(1)
        self._report(orders, time.monotonic() - started)

    def _report(self, orders: list[str], elapsed: float) -> None:
        states = Counter(Withdrawal.objects.filter(order_no__in=orders).values_list("status", flat=True))
        payouts_per_order = Counter(
            SandboxPayout.objects.filter(order_no__in=orders)
            .values("order_no")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        hits = Counter(
            SandboxHit.objects.filter(order_no__in=orders)
            .values("order_no")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        violations = ledger_audit()
        lines = [
            f"After {elapsed:.0f} s:",
            "  final states: " + ", ".join(f"{state} {n}" for state, n in sorted(states.items())),
            "  sandbox payouts per order: "
            + ", ".join(f"{k} payout(s): {n} orders" for k, n in sorted(payouts_per_order.items())),
            f"  orders the sandbox never paid: {len(orders) - sum(payouts_per_order.values())}",
            "  requests per order: " + ", ".join(f"{k}: {n}" for k, n in sorted(hits.items())),
            f"  ledger audit: {'clean' if not violations else f'{len(violations)} violation(s)'}",
        ]
        lines += [f"    {violation}" for violation in violations]
        self.stdout.write("\n".join(lines))
        if violations or any(n > 1 for n in payouts_per_order):
            raise CommandError("the drill found a double payout or a ledger violation")


def _parse_mix(mix: str) -> dict[str, float]:
    shares: dict[str, float] = {}
    for part in filter(None, (item.strip() for item in mix.split(","))):
        name, _, share = part.partition("=")
        if name not in Scenario.values:
            raise CommandError(f"unknown scenario {name!r}; choose from {', '.join(Scenario.values)}")
        shares[name] = float(share)
    if sum(shares.values()) > 1:
        raise CommandError("the shares add up to more than 1")
    return shares


def _delay(scenario: str) -> float:
    """Timeouts outlast the adapter's read timeout; slow answers stay within it."""
    return {Scenario.TIMEOUT: 30.0, Scenario.SLOW: 2.0, Scenario.PROCESS: 3.0, Scenario.LATE_NOTIFY: 20.0}.get(
        Scenario(scenario), 0.0
    )


def _submit(count: int) -> list[str]:
    user = get_user_model().objects.create(username=f"drill-{uuid.uuid4().hex[:8]}")
    wallet = ledger.account_for_user(user=user)
    total = AMOUNT * count
    ledger.transfer_post(
        idempotency_key=f"drill:{user.username}",
        kind="recharge",
        legs=[ledger.Leg(ledger.account_for_system(code="clearing:drill"), -total), ledger.Leg(wallet, total)],
        memo="Payout drill funding",
    )
    card, _ = services.payout_account_bind(
        user=user, kind="bank_card", card_number="6222020200112233446", holder_name="Drill", bank_code="ICBC"
    )
    return [
        services.withdrawal_submit(
            user=user, payout_account=card, amount=AMOUNT, idempotency_key=f"drill:{number}"
        ).withdrawal.order_no
        for number in range(count)
    ]
