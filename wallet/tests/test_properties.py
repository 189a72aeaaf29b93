"""Property test: random sequences of postings keep every ledger invariant.

A Hypothesis state machine drives transfers, holds, captures, releases and replays through
the services and checks the database against a plain model after every step.
"""

import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from wallet import errors, services
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.money import ZERO
from wallet.selectors import account_balance
from wallet.services import Leg

ROUND = itertools.count()
amounts = st.integers(min_value=1, max_value=5_000).map(lambda cents: Decimal(cents) / 100)
account_index = st.integers(min_value=0, max_value=2)


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        run = next(ROUND)
        users = [get_user_model().objects.create(username=f"prop-{run}-{i}") for i in range(3)]
        self.accounts = [services.account_for_user(user=user) for user in users]
        self.clearing = services.account_for_system(code=f"clearing:prop{run}")
        self.balance = [ZERO] * 3
        self.held = [ZERO] * 3
        self.clearing_balance = ZERO
        self.posted: dict[str, tuple[int, int, Decimal]] = {}
        self.keys = itertools.count()

    def available(self, i: int) -> Decimal:
        return self.balance[i] - self.held[i]

    @rule(i=account_index, amount=amounts)
    def recharge(self, i, amount):
        services.transfer_post(
            idempotency_key=self.key(),
            kind="recharge",
            legs=[Leg(self.clearing, -amount), Leg(self.accounts[i], amount)],
        )
        self.balance[i] += amount
        self.clearing_balance -= amount

    @rule(payer=account_index, payee=account_index, amount=amounts)
    def transfer(self, payer, payee, amount):
        if payer == payee:
            return
        key = self.key()
        legs = [Leg(self.accounts[payer], -amount), Leg(self.accounts[payee], amount)]
        if self.available(payer) < amount:
            with pytest.raises(errors.InsufficientFunds):
                services.transfer_post(idempotency_key=key, kind="p2p", legs=legs)
            return
        services.transfer_post(idempotency_key=key, kind="p2p", legs=legs)
        self.balance[payer] -= amount
        self.balance[payee] += amount
        self.posted[key] = (payer, payee, amount)

    @rule(data=st.data())
    def replay(self, data):
        if not self.posted:
            return
        key = data.draw(st.sampled_from(sorted(self.posted)))
        payer, payee, amount = self.posted[key]
        legs = [Leg(self.accounts[payer], -amount), Leg(self.accounts[payee], amount)]
        services.transfer_post(idempotency_key=key, kind="p2p", legs=legs)
        other = amount + Decimal("0.01")
        with pytest.raises(errors.IdempotencyConflict):
            services.transfer_post(
                idempotency_key=key,
                kind="p2p",
                legs=[Leg(self.accounts[payer], -other), Leg(self.accounts[payee], other)],
            )

    @rule(target=holds, i=account_index, amount=amounts)
    def hold(self, i, amount):
        if self.available(i) < amount:
            with pytest.raises(errors.InsufficientFunds):
                services.hold_place(idempotency_key=self.key(), account=self.accounts[i], amount=amount)
            return multiple()
        hold = services.hold_place(idempotency_key=self.key(), account=self.accounts[i], amount=amount)
        self.held[i] += amount
        return (hold.pk, i, amount)

    @rule(hold=consumes(holds), percent=st.integers(min_value=1, max_value=100))
    def capture(self, hold, percent):
        hold_id, i, amount = hold
        captured = max(Decimal("0.01"), (amount * percent / 100).quantize(Decimal("0.01")))
        destinations = [Leg(self.clearing, captured)]
        services.hold_capture(hold=hold_id, destinations=destinations, kind="withdrawal")
        services.hold_capture(hold=hold_id, destinations=destinations, kind="withdrawal")
        self.held[i] -= amount
        self.balance[i] -= captured
        self.clearing_balance += captured
        with pytest.raises(errors.Conflict):
            services.hold_release(hold=hold_id)

    @rule(hold=consumes(holds))
    def release(self, hold):
        hold_id, i, amount = hold
        services.hold_release(hold=hold_id)
        services.hold_release(hold=hold_id)
        self.held[i] -= amount
        with pytest.raises(errors.Conflict):
            services.hold_capture(hold=hold_id, destinations=[Leg(self.clearing, amount)], kind="withdrawal")

    @invariant()
    def database_matches_the_model(self):
        rows = {a.pk: a for a in Account.objects.filter(pk__in=[a.pk for a in self.accounts])}
        for i, account in enumerate(self.accounts):
            row = rows[account.pk]
            assert (row.balance, row.held) == (self.balance[i], self.held[i])
            assert row.balance - row.held >= ZERO
        assert account_balance(account=self.clearing) == self.clearing_balance

    def teardown(self):
        assert ledger_audit() == []

    def key(self) -> str:
        return f"{self.clearing.code}:{next(self.keys)}"


@pytest.mark.django_db
def test_random_sequences_of_postings_keep_every_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            settings.default,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
