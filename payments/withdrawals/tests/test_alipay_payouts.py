"""Withdrawals to Alipay accounts end to end: the pipeline sends them to the sandbox's Alipay over
real HTTP on the live server, and the sandbox's own record proves each was paid at most once.
The in-process tests drive the pipeline's steps as its tasks would; the first runs a real worker."""

from decimal import Decimal

import pytest

from payments.channels.base import UnknownOutcome
from payments.sandbox import engine
from payments.sandbox.models import Protocol, SandboxHit, SandboxPayout, Scenario
from payments.tests.worker import wait_until
from payments.withdrawals import payouts, services
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.selectors import account_balance
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
S = WithdrawalStatus
ALIPAY = Protocol.ALIPAY
# A login id the sandbox's Alipay knows, with the real name it has for it.
KNOWN_LOGIN, KNOWN_NAME = "13800138000", "张三"


@pytest.fixture
def alipay_withdrawal(make_user, funded_account, submit):
    """``alipay_withdrawal(real_name=...)``: an approved withdrawal of 10.00 (9.90 paid out) to
    the known Alipay login id, bound with ``real_name``, from a user funded with 100.00."""

    def make(*, real_name: str = KNOWN_NAME, amount: str = "10.00") -> Withdrawal:
        user = make_user()
        funded_account(user, "100.00")
        account, _ = services.payout_account_bind(user=user, kind="alipay", login_id=KNOWN_LOGIN, real_name=real_name)
        withdrawal = submit(user, amount, payout_account=account)
        assert (withdrawal.status, withdrawal.channel.code) == (S.APPROVED, "alipay_transfer")
        return withdrawal

    return make


def latest(withdrawal: Withdrawal) -> Withdrawal:
    return Withdrawal.objects.get(pk=withdrawal.pk)


def wallet_of(withdrawal: Withdrawal) -> Account:
    return Account.objects.get(owner=withdrawal.user)


def clearing_balance() -> Decimal:
    return account_balance(account=ledger.account_for_system(code="clearing:alipay_transfer"))


@pytest.mark.slow
def test_a_withdrawal_to_an_alipay_account_is_paid_once_by_the_worker_and_captured(
    celery_worker_process, alipay_withdrawal
):
    # Given a worker and the sandbox's Alipay paying at once
    celery_worker_process.start()
    clearing_before = clearing_balance()

    # When a withdrawal to an Alipay account is approved
    withdrawal = alipay_withdrawal()

    # Then it ends success, paid once by Alipay, the hold captured to the Alipay channel's clearing
    wait_until(lambda: latest(withdrawal).status == S.SUCCESS, timeout=30, message=celery_worker_process.output())
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=withdrawal.order_no)
    assert (payout.amount, payout.requests, payout.payee_masked) == (D("9.90"), 1, "138****8000")
    assert latest(withdrawal).channel_reference == payout.channel_reference
    wallet = wallet_of(withdrawal)
    assert (wallet.balance, wallet.held) == (D("90.00"), D("0.00"))
    assert clearing_balance() - clearing_before == D("9.90")
    assert ledger_audit() == []


def test_a_wrong_real_name_fails_the_withdrawal_and_releases_the_hold(sandbox_live, sent_tasks, alipay_withdrawal):
    # Given a withdrawal to a login id bound with a name that is not its holder's
    withdrawal = alipay_withdrawal(real_name="李四")

    # When the pipeline sends it
    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "failed"

    # Then Alipay's refusal fails it for good and the money is available again
    failed = latest(withdrawal)
    assert (failed.status, failed.failure_code) == (S.FAILED, "PAYEE_USER_INFO_ERROR")
    wallet = wallet_of(withdrawal)
    assert (wallet.balance, wallet.held) == (D("100.00"), D("0.00"))
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=withdrawal.order_no)
    assert (payout.state, payout.fee) == ("failed", D("0.00"))
    assert ledger_audit() == []


def test_an_answer_lost_after_alipay_paid_is_resolved_by_the_query_without_a_second_payout(
    sandbox_live, sent_tasks, alipay_withdrawal
):
    # Given Alipay pays the transfer but its answer never arrives whole
    withdrawal = alipay_withdrawal()
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.DROP_RESPONSE, order_no=withdrawal.order_no)

    # When the pipeline sends it, the outcome is unknown and the order stays processing, held
    with pytest.raises(UnknownOutcome):
        payouts.payout_send(withdrawal_id=withdrawal.pk)
    assert latest(withdrawal).status == S.PROCESSING
    assert wallet_of(withdrawal).held == D("10.00")

    # Then the sweep's check asks Alipay, and finishes it as paid, paid once
    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "success"
    assert latest(withdrawal).status == S.SUCCESS
    assert SandboxPayout.objects.get(protocol=ALIPAY, order_no=withdrawal.order_no).requests == 1
    assert SandboxHit.objects.filter(protocol=ALIPAY, order_no=withdrawal.order_no).count() == 1
    assert wallet_of(withdrawal).held == D("0.00")
    assert ledger_audit() == []


def test_a_transfer_that_never_reached_alipay_is_sent_again_by_the_check_and_paid_once(
    sandbox_live, sent_tasks, alipay_withdrawal
):
    # Given Alipay's gateway answers 500 to the first request, taking nothing
    withdrawal = alipay_withdrawal()
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.SERVER_ERROR, order_no=withdrawal.order_no, remaining=1)
    with pytest.raises(UnknownOutcome):
        payouts.payout_send(withdrawal_id=withdrawal.pk)

    # When the check finds no such transfer at Alipay
    result = payouts.payout_check(withdrawal_id=withdrawal.pk)

    # Then it sends it again under the same out_biz_no, and Alipay pays it once
    assert result == "success"
    assert SandboxHit.objects.filter(protocol=ALIPAY, order_no=withdrawal.order_no).count() == 2
    assert SandboxPayout.objects.get(protocol=ALIPAY, order_no=withdrawal.order_no).requests == 1
    assert ledger_audit() == []


def test_a_transfer_alipay_is_dealing_with_stays_processing_until_the_query_says_paid(
    sandbox_live, sent_tasks, alipay_withdrawal
):
    # Given Alipay accepts the transfer and finishes it later
    withdrawal = alipay_withdrawal()
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.PROCESS, order_no=withdrawal.order_no)

    # When the pipeline sends it: DEALING is not an answer to act on, so it is unknown
    with pytest.raises(UnknownOutcome):
        payouts.payout_send(withdrawal_id=withdrawal.pk)
    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "processing"
    assert latest(withdrawal).status == S.PROCESSING

    # Then once Alipay finished it, the next check applies the success
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=withdrawal.order_no)
    engine.payout_settle(payout_id=payout.pk, state=SandboxPayout.State.SUCCESS)
    assert payouts.payout_check(withdrawal_id=withdrawal.pk) == "success"
    assert SandboxPayout.objects.get(pk=payout.pk).requests == 1
    assert ledger_audit() == []


def test_an_abnormal_payee_account_fails_at_once_and_a_resent_task_changes_nothing(
    sandbox_live, sent_tasks, alipay_withdrawal
):
    withdrawal = alipay_withdrawal()
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.FAIL, order_no=withdrawal.order_no)

    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "failed"
    assert payouts.payout_send(withdrawal_id=withdrawal.pk) == "not_sendable"

    assert latest(withdrawal).failure_code == "PAYEE_ACCOUNT_STATUS_ERROR"
    assert wallet_of(withdrawal).held == D("0.00")
    assert SandboxHit.objects.filter(protocol=ALIPAY, order_no=withdrawal.order_no).count() == 1


def test_senders_racing_on_one_alipay_withdrawal_send_it_once(sandbox_live, sent_tasks, alipay_withdrawal):
    # Given an Alipay withdrawal the channel answers slowly, and eight senders (redelivered tasks)
    withdrawal = alipay_withdrawal()
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.SLOW, order_no=withdrawal.order_no, delay_seconds=1)

    # When they all send it at once
    outcomes = run_in_threads(8, lambda i: payouts.payout_send(withdrawal_id=withdrawal.pk))

    # Then one sent it, the others found it locked or already final, and Alipay saw one request
    assert outcomes["success"] == 1
    assert set(outcomes) <= {"success", "busy", "not_sendable"}
    assert SandboxHit.objects.filter(protocol=ALIPAY, order_no=withdrawal.order_no).count() == 1
    assert latest(withdrawal).status == S.SUCCESS
    assert ledger_audit() == []
