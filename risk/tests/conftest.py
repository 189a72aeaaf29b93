"""Fixtures of the risk tests: withdrawal facts evaluated on the seeded rules."""

from datetime import datetime
from decimal import Decimal

import pytest

from risk import services
from risk.kinds import Period
from risk.models import RiskEvaluation
from risk.rules import WithdrawalFacts
from risk.tests.support import FINGERPRINT, local


@pytest.fixture
def facts_for(make_user):
    """Facts of a withdrawal by ``user`` (a fresh active one by default) at 10:00 local time,
    with nothing withdrawn before unless ``counts`` / ``amounts`` say so."""

    def make(
        amount: str = "120.00",
        *,
        user=None,
        counts: dict[str, int] | None = None,
        amounts: dict[str, str] | None = None,
        fingerprint: str = FINGERPRINT,
        now: datetime | None = None,
    ) -> WithdrawalFacts:
        user = user or make_user()
        return WithdrawalFacts(
            user_id=user.pk,
            user_active=user.is_active,
            amount=Decimal(amount),
            payout_fingerprint=fingerprint,
            counts={period: (counts or {}).get(period, 0) for period in Period},
            amounts={period: Decimal((amounts or {}).get(period, "0.00")) for period in Period},
            now=now or local(10),
        )

    return make


@pytest.fixture
def evaluate(facts_for):
    """Evaluate a withdrawal (arguments as ``facts_for``) and return the stored evaluation."""

    def run(amount: str = "120.00", **options) -> RiskEvaluation:
        return services.withdrawal_risk_evaluate(facts=facts_for(amount, **options))

    return run
