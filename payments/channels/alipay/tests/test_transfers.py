"""Alipay payouts (``alipay.fund.trans.uni.transfer`` and ``alipay.fund.trans.common.query``) on
hand-written wire messages: the signed request as documented, and every kind of answer mapped
onto success, a definite failure, "not taken" or unknown. The sandbox over real HTTP is in
payments/sandbox/tests/test_alipay_transfer.py."""

import json
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from payments.channels.alipay import transfers
from payments.channels.alipay.tests.test_adapter import (
    answer_by_hand,
    offline_adapter,
    request_sign_string,
    rsa_key_pair,
    verify_by_hand,
)
from payments.channels.base import NotifyRejected, PayoutRequest, PayoutState, RetryableError, UnknownOutcome
from payments.channels.http import HttpResponse
from payments.sandbox import alipay as sandbox_alipay

D = Decimal
ORDER_NO = "WD20261207000000000001"
TRANSFER_NODE = "alipay_fund_trans_uni_transfer_response"
QUERY_NODE = "alipay_fund_trans_common_query_response"
ORDER_ID = "20261207110070000006040050105202"
FUND_ORDER_ID = "20261207110070001506040049801906"


@pytest.fixture(scope="module")
def secrets() -> dict:
    return sandbox_alipay.keys_generate()


def payout_request(*, amount: str = "9.90", payee: str = "13800138000", name: str = "张三", **extra) -> PayoutRequest:
    return PayoutRequest(
        order_no=extra.pop("order_no", ORDER_NO),
        amount=D(amount),
        currency=extra.pop("currency", "CNY"),
        payee=payee,
        payee_name=name,
        bank_code="",
        remark="Wallet withdrawal",
        notify_url="https://wallet.example/api/v1/notify/alipay_transfer/",
    )


def answered(secrets: dict, node: str, payload: dict) -> HttpResponse:
    """An answer as Alipay writes it, signed with Alipay's key."""
    return answer_by_hand(secrets["alipay_private_key"], node, payload)


def success(**fields) -> dict:
    return {"code": "10000", "msg": "Success", **fields}


def refused(code: str, sub_code: str, **fields) -> dict:
    return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "…", **fields}


# --- The request ------------------------------------------------------------------------------


def test_a_transfer_is_a_signed_form_post_of_the_documented_business_content(secrets):
    adapter, recorder = offline_adapter(
        secrets, answered(secrets, TRANSFER_NODE, success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SUCCESS"))
    )

    adapter.payout(payout_request(amount="9.9"))

    (sent,) = recorder.sent
    assert sent["method"] == "POST"
    assert sent["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(sent["body"].decode(), keep_blank_values=True))
    verify_by_hand(secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert (params["method"], params["sign_type"], params["app_id"]) == (transfers.TRANSFER, "RSA2", secrets["app_id"])
    assert "notify_url" not in params
    assert json.loads(params["biz_content"]) == {
        "out_biz_no": ORDER_NO,
        "trans_amount": "9.90",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "order_title": "Wallet withdrawal",
        "payee_info": {"identity": "13800138000", "identity_type": "ALIPAY_LOGON_ID", "name": "张三"},
    }


def test_the_query_asks_by_out_biz_no_with_the_product_and_scene(secrets):
    adapter, recorder = offline_adapter(
        secrets, answered(secrets, QUERY_NODE, success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SUCCESS"))
    )

    adapter.query_payout(ORDER_NO)

    params = dict(parse_qsl(recorder.sent[0]["body"].decode()))
    verify_by_hand(secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert params["method"] == transfers.QUERY
    assert json.loads(params["biz_content"]) == {
        "out_biz_no": ORDER_NO,
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
    }


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount": "9.999"}, "2 decimal places"),
        ({"amount": "0.09"}, "at least 0.10"),
        ({"currency": "USD"}, "CNY"),
        ({"name": ""}, "real name"),
    ],
)
def test_a_transfer_alipay_cannot_take_is_refused_before_anything_is_sent(secrets, changes, reason):
    adapter, recorder = offline_adapter(secrets)

    with pytest.raises(ValueError, match=reason):
        adapter.payout(payout_request(**changes))

    assert recorder.sent == []


# --- The transfer's answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            success(out_biz_no=ORDER_NO, order_id=ORDER_ID, pay_fund_order_id=FUND_ORDER_ID, status="SUCCESS"),
            (PayoutState.SUCCESS, ORDER_ID, "SUCCESS"),
        ),
        (
            success(out_biz_no=ORDER_NO, pay_fund_order_id=FUND_ORDER_ID, status="SUCCESS"),
            (PayoutState.SUCCESS, FUND_ORDER_ID, "SUCCESS"),
        ),
        (success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="FAIL"), (PayoutState.FAILED, ORDER_ID, "FAIL")),
        # The payee: the name does not match, the account does not exist or cannot receive.
        (refused("40004", "PAYEE_USER_INFO_ERROR"), (PayoutState.FAILED, "", "PAYEE_USER_INFO_ERROR")),
        (refused("40004", "PAYEE_NOT_EXIST"), (PayoutState.FAILED, "", "PAYEE_NOT_EXIST")),
        (refused("40004", "PAYEE_ACC_OCUPIED"), (PayoutState.FAILED, "", "PAYEE_ACC_OCUPIED")),
        (refused("40004", "PERMIT_NON_BANK_LIMIT_PAYEE"), (PayoutState.FAILED, "", "PERMIT_NON_BANK_LIMIT_PAYEE")),
        # The request.
        (refused("40004", "INVALID_PARAMETER"), (PayoutState.FAILED, "", "INVALID_PARAMETER")),
        (refused("40004", "EXCEED_LIMIT_SM_MIN_AMOUNT"), (PayoutState.FAILED, "", "EXCEED_LIMIT_SM_MIN_AMOUNT")),
        # Our own Alipay account: nothing left it.
        (refused("40004", "PAYER_BALANCE_NOT_ENOUGH"), (PayoutState.FAILED, "", "PAYER_BALANCE_NOT_ENOUGH")),
    ],
)
def test_transfer_answers_that_say_paid_or_definitely_not_paid_are_results(secrets, payload, expected):
    adapter, _ = offline_adapter(secrets, answered(secrets, TRANSFER_NODE, payload))

    result = adapter.payout(payout_request())

    assert (result.state, result.channel_reference, result.code) == expected


@pytest.mark.parametrize(
    "payload",
    [
        refused("40004", "SYSTEM_ERROR"),
        refused("20000", "isp.unknow-error"),
        refused("20000", "aop.unknow-error"),
        # The same order number with other parameters: the first transfer may have been paid.
        refused("40004", "PAYMENT_INFO_INCONSISTENCY"),
        # A code this adapter does not know is never taken for a failure.
        refused("40004", "SOME_CODE_ALIPAY_ADDS_LATER"),
        success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="DEALING"),
        success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SOMETHING_NEW"),
        success(out_biz_no=ORDER_NO, status="SUCCESS"),  # success without Alipay's order id
        success(out_biz_no="WD-ANOTHER-ORDER", order_id=ORDER_ID, status="SUCCESS"),
        success(out_biz_no=ORDER_NO, order_id=ORDER_ID),  # no status at all
        # A genuine refusal of another order (replayed) does not fail this one.
        refused("40004", "PAYEE_NOT_EXIST", out_biz_no="WD-ANOTHER-ORDER"),
    ],
)
def test_transfer_answers_that_do_not_say_what_happened_are_unknown(secrets, payload):
    adapter, _ = offline_adapter(secrets, answered(secrets, TRANSFER_NODE, payload))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request())


@pytest.mark.parametrize(
    "payload",
    [
        refused("40002", "isv.invalid-signature"),
        refused("40001", "isv.missing-signature"),
        refused("40006", "isv.insufficient-isv-permissions"),
    ],
)
def test_a_transfer_the_gateway_refused_before_looking_at_it_was_not_taken(secrets, payload):
    adapter, _ = offline_adapter(secrets, answered(secrets, TRANSFER_NODE, payload))

    with pytest.raises(RetryableError) as raised:
        adapter.payout(payout_request())

    assert raised.value.code == payload["sub_code"]


def test_every_listed_refusal_is_a_business_refusal_that_fails_and_nothing_else_does(secrets):
    """The list is the whole of what fails: system errors and repeats are not on it."""
    assert not {"SYSTEM_ERROR", "PAYMENT_INFO_INCONSISTENCY", "ORDER_NOT_EXIST"} & set(transfers.REFUSALS)
    for sub_code in transfers.REFUSALS:
        result = transfers.transfer_result(refused("40004", sub_code), order_no=ORDER_NO)
        assert (result.state, result.code) == (PayoutState.FAILED, sub_code)
        with pytest.raises(UnknownOutcome):
            transfers.transfer_result(refused("20000", sub_code), order_no=ORDER_NO)


# --- Answers that are not Alipay's ------------------------------------------------------------


def forged_answer(secrets: dict, payload: dict) -> HttpResponse:
    """A well-formed answer signed with a key that is not Alipay's."""
    other_private, _ = rsa_key_pair()
    return answer_by_hand(other_private, TRANSFER_NODE, payload)


@pytest.mark.parametrize(
    "answer",
    [
        # A refusal signed by someone else must never release a hold.
        lambda s: forged_answer(s, refused("40004", "PAYEE_NOT_EXIST")),
        lambda s: forged_answer(s, success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SUCCESS")),
        lambda s: HttpResponse(
            status=200,
            headers={},
            body=json.dumps({TRANSFER_NODE: refused("40004", "PAYEE_NOT_EXIST")}).encode(),
        ),
        lambda s: HttpResponse(status=502, headers={}, body=b"<html>Bad Gateway</html>"),
        lambda s: HttpResponse(status=200, headers={}, body=b'{"alipay_fund_trans_uni_transfer_response":{"co'),
    ],
    ids=["refusal-forged", "success-forged", "unsigned", "http-502", "cut-off"],
)
def test_an_answer_that_does_not_verify_is_unknown_whatever_it_says(secrets, answer):
    adapter, _ = offline_adapter(secrets, answer(secrets))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request())


# --- The query's answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SUCCESS", trans_amount="9.90"),
            (PayoutState.SUCCESS, ORDER_ID, "SUCCESS"),
        ),
        (
            success(
                out_biz_no=ORDER_NO,
                order_id=ORDER_ID,
                status="FAIL",
                error_code="PAYEE_NOT_EXIST",
                fail_reason="收款账号不存在",
            ),
            (PayoutState.FAILED, ORDER_ID, "PAYEE_NOT_EXIST"),
        ),
        (
            success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="DEALING"),
            (PayoutState.PROCESSING, ORDER_ID, "DEALING"),
        ),
        (
            success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="WAIT_PAY"),
            (PayoutState.PROCESSING, ORDER_ID, "WAIT_PAY"),
        ),
        (success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="REFUND"), (PayoutState.RETURNED, ORDER_ID, "REFUND")),
        (success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="CLOSED"), (PayoutState.FAILED, ORDER_ID, "CLOSED")),
        (refused("40004", "ORDER_NOT_EXIST"), (PayoutState.NOT_FOUND, "", "ORDER_NOT_EXIST")),
    ],
)
def test_query_answers_map_onto_states(secrets, payload, expected):
    adapter, _ = offline_adapter(secrets, answered(secrets, QUERY_NODE, payload))

    result = adapter.query_payout(ORDER_NO)

    assert (result.state, result.channel_reference, result.code) == expected


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (refused("40004", "SYSTEM_ERROR"), UnknownOutcome),
        (refused("20000", "isp.unknow-error"), UnknownOutcome),
        (success(out_biz_no="WD-ANOTHER-ORDER", order_id=ORDER_ID, status="SUCCESS"), UnknownOutcome),
        (success(out_biz_no=ORDER_NO, order_id=ORDER_ID, status="SOMETHING_NEW"), UnknownOutcome),
        (refused("40004", "INVALID_PARAMETER"), RetryableError),  # a refused query says nothing of the transfer
        (refused("40002", "isv.invalid-signature"), RetryableError),
    ],
)
def test_query_answers_that_say_nothing_of_the_transfer_are_never_a_failure(secrets, payload, error):
    adapter, _ = offline_adapter(secrets, answered(secrets, QUERY_NODE, payload))

    with pytest.raises(error):
        adapter.query_payout(ORDER_NO)


def test_alipay_transfers_have_no_notify_here(secrets):
    adapter, _ = offline_adapter(secrets)

    with pytest.raises(NotifyRejected):
        adapter.parse_payout_notify(headers={}, body=b"out_biz_no=WD1&status=SUCCESS")
