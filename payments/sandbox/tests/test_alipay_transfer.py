"""The sandbox's Alipay transfers over real HTTP on the live server, through our adapter: it pays
at most once per out_biz_no, checks the real name of the login ids it knows, and plays the
scenario rules as Alipay would behave."""

import json
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import requests

from payments.channels.alipay import adapter_for_sandbox
from payments.channels.alipay.tests.test_adapter import signed_request_by_hand
from payments.channels.base import PayoutRequest, PayoutState, RetryableError, UnknownOutcome
from payments.order_numbers import order_no_new
from payments.sandbox import engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxHit, SandboxPayout, Scenario
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
ALIPAY = Protocol.ALIPAY
NOTIFY_TASK = engine.NOTIFY_TASK


@pytest.fixture
def sandbox(sandbox_live, sent_tasks):
    """Adapters pointed at the live server's sandbox; the settle tasks the sandbox schedules are
    recorded in ``settlements`` (no worker runs here)."""
    secrets = keys_for(ALIPAY)
    url = f"{sandbox_live.url}/sandbox/alipay"

    def adapter(read_timeout: float = 5, **overrides: str):
        return adapter_for_sandbox({**secrets, **overrides}, base_url=url, read_timeout=read_timeout)

    return SimpleNamespace(secrets=secrets, url=url, adapter=adapter, settlements=sent_tasks.named(NOTIFY_TASK))


def transfer(order_no: str, *, amount: str = "9.90", login_id: str = "13812345678", name: str = "王五"):
    return PayoutRequest(
        order_no=order_no,
        amount=D(amount),
        currency="CNY",
        payee=login_id,
        payee_name=name,
        bank_code="",
        remark="Wallet withdrawal",
        notify_url="",
    )


def settle_as_scheduled(sandbox) -> None:
    """What the sandbox's own worker would do with the settlements it scheduled."""
    for task in list(sandbox.settlements):
        payout_id, state = task["args"]
        engine.payout_settle(payout_id=payout_id, state=state)


def test_a_transfer_pays_once_and_the_same_out_biz_no_again_answers_the_first_result(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")

    first = adapter.payout(transfer(order_no))
    again = adapter.payout(transfer(order_no))

    assert first.state == again.state == PayoutState.SUCCESS
    assert first.channel_reference == again.channel_reference != ""
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=order_no)
    assert (payout.state, payout.amount, payout.requests, payout.payee_masked) == (
        "success",
        D("9.90"),
        2,
        "138****5678",
    )
    assert adapter.query_payout(order_no).state == PayoutState.SUCCESS


def test_a_real_name_that_is_not_the_one_alipay_knows_is_refused_and_stays_refused(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")

    result = adapter.payout(transfer(order_no, login_id="13800138000", name="李四"))
    again = adapter.payout(transfer(order_no, login_id="13800138000", name="李四"))

    assert (result.state, result.code) == (PayoutState.FAILED, "PAYEE_USER_INFO_ERROR")
    assert (again.state, again.code) == (PayoutState.FAILED, "PAYEE_USER_INFO_ERROR")
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=order_no)
    assert (payout.state, payout.failure_code, payout.fee, payout.requests) == ("failed", "PAYEE_USER_INFO_ERROR", 0, 2)
    queried = adapter.query_payout(order_no)
    assert (queried.state, queried.code) == (PayoutState.FAILED, "PAYEE_USER_INFO_ERROR")


def test_the_right_real_name_of_a_known_login_id_is_paid(sandbox):
    result = sandbox.adapter().payout(transfer(order_no_new("WD"), login_id="13800138000", name="张三"))

    assert result.state == PayoutState.SUCCESS


@pytest.mark.parametrize("login_id", ["13900000000", "nobody@example.com"])
def test_a_login_id_alipay_does_not_have_is_payee_not_exist(sandbox, login_id):
    result = sandbox.adapter().payout(transfer(order_no_new("WD"), login_id=login_id))

    assert (result.state, result.code) == (PayoutState.FAILED, "PAYEE_NOT_EXIST")


def test_a_real_name_check_comes_before_the_rules_and_uses_none_of_them(sandbox):
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.SERVER_ERROR, remaining=1)

    result = sandbox.adapter().payout(transfer(order_no_new("WD"), login_id="13800138000", name="李四"))

    assert result.code == "PAYEE_USER_INFO_ERROR"
    with pytest.raises(UnknownOutcome):
        sandbox.adapter().payout(transfer(order_no_new("WD")))


def test_the_fail_scenario_refuses_with_the_rules_code_or_an_abnormal_payee_account(sandbox):
    adapter = sandbox.adapter()
    coded, plain = order_no_new("WD"), order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.FAIL, order_no=coded, failure_code="PAYEE_NOT_EXIST")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.FAIL, order_no=plain)

    assert adapter.payout(transfer(coded)).code == "PAYEE_NOT_EXIST"
    assert adapter.payout(transfer(plain)).code == "PAYEE_ACCOUNT_STATUS_ERROR"


def test_a_fail_rule_with_a_code_alipay_does_not_document_is_unknown_until_the_query_says_fail(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.FAIL, order_no=order_no, failure_code="SOMETHING_NEW")

    with pytest.raises(UnknownOutcome):
        adapter.payout(transfer(order_no))

    queried = adapter.query_payout(order_no)
    assert (queried.state, queried.code) == (PayoutState.FAILED, "SOMETHING_NEW")


@pytest.mark.parametrize("scenario", [Scenario.SERVER_ERROR, Scenario.TIMEOUT])
def test_a_500_or_a_timeout_is_unknown_and_nothing_was_paid(sandbox, scenario):
    adapter = sandbox.adapter(read_timeout=1)
    order_no = order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=scenario, order_no=order_no, delay_seconds=2, remaining=1)

    with pytest.raises(UnknownOutcome):
        adapter.payout(transfer(order_no))

    assert adapter.query_payout(order_no).state == PayoutState.NOT_FOUND
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()
    # The same transfer sent again is paid, once.
    assert adapter.payout(transfer(order_no)).state == PayoutState.SUCCESS
    assert SandboxPayout.objects.get(order_no=order_no).requests == 1
    assert SandboxHit.objects.filter(order_no=order_no).count() == 2


def test_a_dropped_answer_is_unknown_though_paid_and_the_query_finds_the_payment(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.DROP_RESPONSE, order_no=order_no)

    with pytest.raises(UnknownOutcome):
        adapter.payout(transfer(order_no))

    assert adapter.query_payout(order_no).state == PayoutState.SUCCESS
    assert SandboxPayout.objects.get(order_no=order_no).state == "success"


def test_a_transfer_alipay_is_still_dealing_with_is_unknown_then_queried_to_its_end(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.PROCESS, order_no=order_no)

    with pytest.raises(UnknownOutcome) as raised:
        adapter.payout(transfer(order_no))
    assert raised.value.code == "DEALING"
    assert adapter.query_payout(order_no).state == PayoutState.PROCESSING

    settle_as_scheduled(sandbox)

    assert adapter.query_payout(order_no).state == PayoutState.SUCCESS


def test_a_returned_transfer_queries_as_returned(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")
    engine.rule_add(protocol=ALIPAY, scenario=Scenario.RETURN, order_no=order_no)
    assert adapter.payout(transfer(order_no)).state == PayoutState.SUCCESS

    settle_as_scheduled(sandbox)

    assert adapter.query_payout(order_no).state == PayoutState.RETURNED


def test_the_same_out_biz_no_with_another_amount_is_unknown_and_pays_nothing_more(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")
    adapter.payout(transfer(order_no))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.payout(transfer(order_no, amount="19.90"))

    assert raised.value.code == "PAYMENT_INFO_INCONSISTENCY"
    payout = SandboxPayout.objects.get(order_no=order_no)
    assert (payout.amount, payout.requests) == (D("9.90"), 2)


@pytest.mark.parametrize(
    ("amount", "code"), [("0.09", "EXCEED_LIMIT_SM_MIN_AMOUNT"), ("50000.01", "EXCEED_LIMIT_PERSONAL_SM_AMOUNT")]
)
def test_amounts_outside_alipays_limits_are_refused(sandbox, amount, code):
    """Sent by hand: our adapter refuses to send less than 0.10 at all."""
    order_no = order_no_new("WD")
    biz = {
        "out_biz_no": order_no,
        "trans_amount": amount,
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "Wallet withdrawal",
        "payee_info": {"identity": "13812345678", "identity_type": "ALIPAY_LOGON_ID", "name": "王五"},
    }
    params = signed_request_by_hand(sandbox.secrets, "alipay.fund.trans.uni.transfer", biz)

    response = requests.post(
        f"{sandbox.url}/gateway.do",
        data=urlencode(params).encode(),
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )

    node = json.loads(response.text)["alipay_fund_trans_uni_transfer_response"]
    assert (node["code"], node["sub_code"]) == ("40004", code)
    assert SandboxPayout.objects.get(order_no=order_no).state == "failed"


def test_a_transfer_signed_with_another_app_key_is_refused_and_records_nothing(sandbox):
    other = adapter_for_sandbox(
        {**sandbox.secrets, "app_private_key": keys_for(Protocol.BANK)["merchant_private_key"]},
        base_url=sandbox.url,
        read_timeout=5,
    )
    order_no = order_no_new("WD")

    with pytest.raises(RetryableError) as raised:
        other.payout(transfer(order_no))

    assert raised.value.code == "isv.invalid-signature"
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()
    assert not SandboxHit.objects.filter(order_no=order_no).exists()


def test_a_transfer_without_the_payees_name_is_an_invalid_parameter_and_records_nothing(sandbox):
    order_no = order_no_new("WD")
    biz = {
        "out_biz_no": order_no,
        "trans_amount": "1.00",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "t",
        "payee_info": {"identity": "13812345678", "identity_type": "ALIPAY_LOGON_ID"},
    }
    params = signed_request_by_hand(sandbox.secrets, "alipay.fund.trans.uni.transfer", biz)

    response = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)

    node = json.loads(response.text)["alipay_fund_trans_uni_transfer_response"]
    assert (node["code"], node["sub_code"]) == ("40004", "INVALID_PARAMETER")
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()


def test_the_query_of_an_order_alipay_never_had_is_not_found(sandbox):
    assert sandbox.adapter().query_payout(order_no_new("WD")).state == PayoutState.NOT_FOUND


def test_the_gateway_still_serves_the_payment_methods(sandbox):
    """Transfers share the gateway URL: a trade query still reaches the payment half."""
    assert sandbox.adapter().payment_query(order_no_new("PO")).state.value == "not_found"


def test_the_same_transfer_sent_at_once_on_eight_connections_is_paid_once(sandbox):
    # Given eight requests for one out_biz_no arriving together (a client retrying in parallel)
    adapter = sandbox.adapter()
    order_no = order_no_new("WD")

    # When they all reach the sandbox's Alipay at once
    outcomes = run_in_threads(8, lambda i: adapter.payout(transfer(order_no)).channel_reference)

    # Then every answer names the one transfer, which was paid once
    payout = SandboxPayout.objects.get(protocol=ALIPAY, order_no=order_no)
    assert outcomes == Counter({payout.channel_reference: 8})
    assert (payout.state, payout.requests) == ("success", 8)
