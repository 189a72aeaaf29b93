"""A fire drill for the payout pipeline: N withdrawals through the sandbox with a chosen mix of
channel failures, on the running system (`make run`: web, worker and beat; from a second shell
`make manage ARGS="payout_drill …"` finds its servers).

It refuses to run unless the bank channel goes to the sandbox. It tells the sandbox to misbehave
for the first requests (one rule per scenario, each used up after its share), creates a drill
user with money and a bank card, submits N withdrawals that the risk rules approve at once, and
waits until every order is final, printing how far it got every few seconds. Orders still
processing after ``--sweep-after`` seconds are asked about at the channel right away, as the
ten-minute sweep would. It prints our final states beside the sandbox's, the requests per order
and the ledger audit, and fails when an order is not final, disagrees with the sandbox (money
paid that we count as failed, or the reverse) or the ledger audit finds a violation.

    manage.py payout_drill --count 200 --mix fail=0.1,server_error=0.1,timeout=0.05,drop_response=0.1
"""

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from payments.channels import registry
from payments.channels.models import Channel
from payments.sandbox import engine
from payments.sandbox.models import SandboxHit, SandboxPayout, Scenario
from payments.withdrawals import services, tasks
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from risk.models import RiskRule
from wallet import services as ledger
from wallet.audit import Violation, ledger_audit
from wallet.progress import Progress

AMOUNT = Decimal("1.00")
CHANNEL = "bank"  # the drill pays to a bank card, so its orders route to this channel
# A drill user may withdraw as often as the drill needs; other users keep the business limits.
COUNT_RULES = ("hourly_count", "daily_count", "monthly_count")
NON_FINAL = (WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING)
# What the sandbox did with an order, in the words of its payer; NOTHING: no payout recorded
# (every request timed out or got a 500), so no money moved there.
NOTHING = "took nothing"
SANDBOX_WORDS = {
    SandboxPayout.State.SUCCESS: "paid",
    SandboxPayout.State.FAILED: "refused",
    SandboxPayout.State.RETURNED: "paid, then returned",
    SandboxPayout.State.PROCESSING: "still paying",
}
# Our final state and the sandbox outcomes that agree with it; any other pair means money was
# paid that we count as not paid, or the reverse.
AGREEING = {
    WithdrawalStatus.SUCCESS: {"paid"},
    WithdrawalStatus.FAILED: {"refused", NOTHING},
    WithdrawalStatus.REFUNDED: {"paid, then returned"},
}


@dataclass(frozen=True)
class Summary:
    """How the drill's orders ended, here and at the sandbox."""

    orders: int
    ours: Counter[str]
    sandbox: Counter[str]
    requests: Counter[int]
    not_final: int
    disagreeing: list[str]
    violations: list[Violation]

    def lines(self, elapsed: float) -> list[str]:
        ending = (
            f"all {self.orders} orders are final"
            if not self.not_final
            else f"{self.not_final} of {self.orders} orders are still not final"
        )
        agreeing = self.orders - self.not_final - len(self.disagreeing)
        lines = [
            f"After {elapsed:.0f} s {ending}.",
            f"  our orders: {_counts(self.ours)}",
            f"  at the sandbox: {_counts(self.sandbox)}",
            "  requests the sandbox got per order: "
            + ", ".join(f"{_plural(k, 'request')} for {_plural(n, 'order')}" for k, n in sorted(self.requests.items())),
            f"  final orders that agree with the sandbox: {agreeing} of {self.orders - self.not_final}",
        ]
        lines += [f"    disagrees: {order}" for order in self.disagreeing]
        lines.append(f"  ledger audit: {'clean' if not self.violations else f'{len(self.violations)} violation(s)'}")
        lines += [f"    {violation}" for violation in self.violations]
        return lines

    def problems(self) -> list[str]:
        found = []
        if self.not_final:
            found.append(f"{self.not_final} order(s) not final")
        if self.disagreeing:
            found.append(f"{len(self.disagreeing)} order(s) disagreeing with the sandbox")
        if self.violations:
            found.append(f"{len(self.violations)} ledger violation(s)")
        return found


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
        _refuse_real_money()
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
        self.stdout.write(
            f"Submitted {len(orders)} withdrawals of {AMOUNT} to the {CHANNEL} channel's sandbox; the Celery worker "
            f"pays them. Waiting up to {timeout:.0f} s for every order to be final."
        )
        progress = Progress(self.stdout.write, noun="final", total=len(orders))
        swept = False
        while (waiting := _not_final(orders)) and (elapsed := progress.elapsed()) <= timeout:
            progress.update(
                len(orders) - sum(waiting.values()), *(f"{n} {status}" for status, n in sorted(waiting.items()))
            )
            if elapsed > sweep_after and not swept:
                processing = list(
                    Withdrawal.objects.filter(order_no__in=orders, status=WithdrawalStatus.PROCESSING).values_list(
                        "pk", flat=True
                    )
                )
                for withdrawal_id in processing:
                    tasks.withdrawal_check.delay(withdrawal_id)
                self.stdout.write(
                    f"  {elapsed:.0f} s: asked the channel about the {len(processing)} order(s) still processing, "
                    "as the sweep would"
                )
                swept = True
            time.sleep(1)
        summary = drill_summary(orders)
        self.stdout.write("\n".join(summary.lines(progress.elapsed())))
        if problems := summary.problems():
            raise CommandError(f"the drill found {', '.join(problems)}")


def drill_summary(orders: list[str]) -> Summary:
    ours = dict(Withdrawal.objects.filter(order_no__in=orders).values_list("order_no", "status"))
    payouts = dict(SandboxPayout.objects.filter(protocol=CHANNEL, order_no__in=orders).values_list("order_no", "state"))
    sandbox = {
        order: SANDBOX_WORDS[SandboxPayout.State(payouts[order])] if order in payouts else NOTHING for order in orders
    }
    hits = Counter(
        SandboxHit.objects.filter(protocol=CHANNEL, order_no__in=orders)
        .values("order_no")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    hits[0] += len(orders) - hits.total()
    # Pending (a person's review) never ends by itself: the drill counts it as not final too.
    final = [order for order in orders if ours[order] in AGREEING]
    return Summary(
        orders=len(orders),
        ours=Counter(ours.values()),
        sandbox=Counter(sandbox.values()),
        requests=+hits,
        not_final=len(orders) - len(final),
        disagreeing=[
            f"{order} is {ours[order]} here, {sandbox[order]} at the sandbox"
            for order in final
            if sandbox[order] not in AGREEING[WithdrawalStatus(ours[order])]
        ],
        violations=ledger_audit(),
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items()))


def _not_final(orders: list[str]) -> Counter[str]:
    """The drill's orders not final yet, by status (approved: waiting for the worker)."""
    return Counter(
        Withdrawal.objects.filter(order_no__in=orders, status__in=NON_FINAL).values_list("status", flat=True)
    )


def _refuse_real_money() -> None:
    if registry.is_sandboxed(Channel.objects.get(code=CHANNEL)):
        return
    why = "SANDBOX_ENABLED is off" if not settings.SANDBOX_ENABLED else f"the {CHANNEL} channel has credentials"
    raise CommandError(
        f"the {CHANNEL} channel pays real money here ({why}): the drill runs on the sandbox only, "
        "for example beside `make run`"
    )


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
