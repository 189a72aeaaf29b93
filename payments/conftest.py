"""Fixtures of the payments tests: funded users, payout accounts, withdrawals in any state."""

import functools
from collections.abc import Callable
from decimal import Decimal
from itertools import count

import pytest

from payments.merchants.models import Merchant
from payments.merchants.tests.factories import merchant_of
from payments.sandbox import keys as sandbox_keys
from payments.tests.worker import celery_broker, celery_worker_process, sandbox_live  # noqa: F401 - pipeline fixtures
from payments.withdrawals import services
from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalStatus
from risk.models import RiskRule
from wallet.ratelimit import rate_limiter

D = Decimal


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it pass the Luhn test."""
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


CARD_NUMBER = luhn_complete("622202020011223344")  # 19 digits, a UnionPay-style number
OTHER_CARD_NUMBER = luhn_complete("621700123456789")
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture
def shop(db) -> Merchant:
    """The merchant ``shop`` (its wallet account ``merchant:shop``, hot)."""
    return merchant_of("shop")


@pytest.fixture
def refunder(shop):
    """The shop's service account: it creates and refunds the shop's order payments."""
    return shop.service_user


@pytest.fixture(autouse=True)
def throttle_history_cleared():
    """Throttle windows live in Redis, across tests: each test starts with none."""
    rate_limiter().storage.reset()


@pytest.fixture
def card_account() -> Callable[..., PayoutAccount]:
    def bind(user, card_number: str = CARD_NUMBER, holder_name: str = "张三", bank_code: str = "ICBC") -> PayoutAccount:
        account, _ = services.payout_account_bind(
            user=user, kind="bank_card", card_number=card_number, holder_name=holder_name, bank_code=bank_code
        )
        return account

    return bind


@pytest.fixture
def wechat_account() -> Callable[..., PayoutAccount]:
    def bind(user, openid: str = OPENID) -> PayoutAccount:
        account, _ = services.payout_account_bind(user=user, kind="wechat_openid", openid=openid)
        return account

    return bind


@pytest.fixture
def risk_rule() -> Callable[..., RiskRule]:
    """Change a seeded risk rule for one test: ``risk_rule("hourly_count", enabled=False)``."""

    def change(code: str, **values) -> RiskRule:
        RiskRule.objects.filter(code=code).update(**values)
        return RiskRule.objects.get(code=code)

    return change


@pytest.fixture
def submit(card_account):
    """Submit a withdrawal through the service with a fresh idempotency key per call."""
    keys = count(1)

    def submit_(user, amount: str, *, payout_account: PayoutAccount | None = None, key: str | None = None):
        return services.withdrawal_submit(
            user=user,
            payout_account=payout_account or card_account(user),
            amount=D(amount),
            idempotency_key=key or f"test-{next(keys)}",
        ).withdrawal

    return submit_


@pytest.fixture
def withdrawal_in(make_user, funded_account, submit, staff_in):
    """A withdrawal of a fresh funded user, driven through the services into ``status``."""

    def make(status: str, amount: str = "6000.00") -> Withdrawal:
        user = make_user()
        funded_account(user, "20000.00")
        withdrawal = submit(user, amount)
        if status == WithdrawalStatus.PENDING:
            assert withdrawal.status == WithdrawalStatus.PENDING
            return withdrawal
        if withdrawal.status == WithdrawalStatus.PENDING:
            if status == WithdrawalStatus.REJECTED:
                return services.withdrawal_reject(withdrawal=withdrawal, actor=staff_in("finance_reviewer"), reason="r")
            withdrawal = services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_supervisor"))
        if status == WithdrawalStatus.APPROVED:
            return withdrawal
        if status == WithdrawalStatus.CANCELLED:
            return services.withdrawal_cancel(withdrawal=withdrawal, actor=user)
        withdrawal = services.withdrawal_dispatch(withdrawal=withdrawal)
        if status == WithdrawalStatus.PROCESSING:
            return withdrawal
        if status == WithdrawalStatus.FAILED:
            return services.withdrawal_fail(withdrawal=withdrawal, code="ACCOUNT_ERROR", message="closed account")
        withdrawal = services.withdrawal_succeed(withdrawal=withdrawal, channel_reference="CH-1")
        if status == WithdrawalStatus.SUCCESS:
            return withdrawal
        assert status == WithdrawalStatus.REFUNDED
        return services.withdrawal_reverse(withdrawal=withdrawal, reason="bank bounce")

    return make


@pytest.fixture(scope="session", autouse=True)
def sandbox_secrets_once_per_process():
    """Each test's database gets its own sandbox keys rows, all with the keys generated once per
    test process: RSA-2048 generation costs tens of milliseconds a key. Tests that need other
    keys generate them themselves (``keys_generate``)."""
    generated = functools.cache(sandbox_keys.secrets_generate)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_keys, "secrets_generate", lambda protocol: dict(generated(protocol)))
        yield
