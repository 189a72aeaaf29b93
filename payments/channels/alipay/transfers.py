"""Alipay's single transfer to an Alipay account (``alipay.fund.trans.uni.transfer``, product
``TRANS_ACCOUNT_NO_PWD``, scene ``DIRECT_TRANSFER``) and its query
(``alipay.fund.trans.common.query``): the business content of each request and what each
verified answer means (docs/PAYOUTS.md, "Alipay").

``out_biz_no`` is our order number and Alipay's idempotency key: the same number again answers
the first transfer's result and never pays twice. Alipay checks the real name given with a login
id and refuses the transfer when it differs. An answer says one of three things:

- paid: ``code`` 10000 and ``status`` SUCCESS, with Alipay's ``order_id``;
- definitely not paid: ``status`` FAIL, or a refusal whose ``sub_code`` is in ``REFUSALS``;
- anything else (``SYSTEM_ERROR``, ``20000``, ``DEALING``, the same order number with other
  parameters, a code not listed here): the transfer may have been made, so ``UnknownOutcome``
  and the query decides. A code Alipay adds later is never taken for a failure.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from payments.channels.base import PayoutRequest, PayoutResult, PayoutState, RetryableError, UnknownOutcome
from wallet.money import format_amount, is_cents

TRANSFER = "alipay.fund.trans.uni.transfer"
QUERY = "alipay.fund.trans.common.query"
PRODUCT_CODE = "TRANS_ACCOUNT_NO_PWD"
BIZ_SCENE = "DIRECT_TRANSFER"
IDENTITY_TYPE = "ALIPAY_LOGON_ID"
DEFAULT_TITLE = "钱包提现"
ORDER_TITLE_MAX_LENGTH = 128
CODE_SUCCESS = "10000"
# Alipay's floor for one transfer.
MIN_AMOUNT = Decimal("0.10")
# "Service currently unavailable" and system errors: the transfer may have been made.
UNKNOWN_CODES = {"20000"}
UNKNOWN_SUB_CODES = {"SYSTEM_ERROR", "isp.unknow-error", "aop.unknow-error"}
# The order number came again with other parameters: its first transfer may have been paid.
INCONSISTENT = "PAYMENT_INFO_INCONSISTENCY"
# The query's "no transfer with this out_biz_no": it never reached Alipay.
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
# Business refusals (code 40004) that mean "not paid, and this transfer never will be": sub_code
# -> what it says, for the docs and the order's failure reason. From Alipay's documentation of
# the transfer's error codes; anything not listed here is unknown, never failed.
REFUSALS = {
    # The payee.
    "PAYEE_NOT_EXIST": "the payee's Alipay account does not exist",
    "PAYEE_USER_INFO_ERROR": "the real name does not match the Alipay account",
    "PAYEE_ACC_OCUPIED": "the login id belongs to several Alipay accounts",
    "PAYEE_ACCOUNT_STATUS_ERROR": "the payee's account is abnormal",
    "PAYEE_USERINFO_STATUS_ERROR": "the payee's identity information is abnormal",
    "PAYEE_NOT_RELNAME_CERTIFY": "the payee has not verified their real name",
    "PERM_AML_NOT_REALNAME_REV": "the payee must complete their identity information",
    "PERMIT_NON_BANK_LIMIT_PAYEE": "the payee's account cannot receive money (identity incomplete)",
    "PERMIT_LIMIT_PAYEE": "the payee may not receive money",
    "RELEASE_USER_FORBBIDEN_RECIEVE": "the payee's account is closed to receiving",
    "EXCEED_LIMIT_UNRN_DM_AMOUNT": "an account without real name receives at most 1,000 a day",
    # The request.
    "INVALID_PARAMETER": "a parameter is invalid",
    "EXCEED_LIMIT_SM_MIN_AMOUNT": "below the minimum of one transfer (0.10)",
    "EXCEED_LIMIT_SM_AMOUNT": "above the maximum of one transfer",
    "EXCEED_LIMIT_PERSONAL_SM_AMOUNT": "above 50,000 to a person in one transfer",
    "EXCEED_LIMIT_ENT_SM_AMOUNT": "above 100,000 to a company in one transfer",
    "EXCEED_LIMIT_DM_MAX_AMOUNT": "above the daily maximum",
    "MEMO_REQUIRED_IN_TRANSFER_ERROR": "a remark is required from 50,000",
    "REMARK_HAS_SENSITIVE_WORD": "the remark has a sensitive word",
    # Our own (the payer's) Alipay account: nothing left it.
    "PAYER_BALANCE_NOT_ENOUGH": "our Alipay balance is not enough",
    "BALANCE_IS_NOT_ENOUGH": "our Alipay balance is not enough",
    "PAYCARD_UNABLE_PAYMENT": "our account cannot pay from its balance",
    "PAYER_STATUS_ERROR": "our account is abnormal",
    "PAYER_USER_INFO_ERROR": "our account's information is inconsistent",
    "PAYER_DATA_INCOMPLETE": "our account must complete its identity information",
    "PAYER_CERT_EXPIRED": "our account's identity documents expired",
    "ACCOUNT_NOT_EXIST": "our account has no balance account",
    "PERMIT_CHECK_PERM_LIMITED": "our account is restricted",
    "PERMIT_CHECK_PERM_IDENTITY_THEFT": "our account is restricted (identity check)",
    "PERMIT_PAYER_LOWEST_FORBIDDEN": "our account's balance payments are restricted",
    "PERMIT_PAYER_FORBIDDEN": "our account's balance payments are restricted",
    "CERT_MISS_TRANS_LIMIT": "our account must complete its identity information",
    "CERT_MISS_ACC_LIMIT": "our account must complete its identity information",
}
# The transfer's answer: SUCCESS and FAIL are final; DEALING is "accepted, not finished".
TRANSFER_STATES = {"SUCCESS": PayoutState.SUCCESS, "FAIL": PayoutState.FAILED}
DEALING = "DEALING"
# The query's states. REFUND (paid, then returned: bank-card transfers) undoes a success;
# CLOSED never paid the payee (an unclaimed transfer given back to us).
QUERY_STATES = {
    "SUCCESS": PayoutState.SUCCESS,
    "FAIL": PayoutState.FAILED,
    "CLOSED": PayoutState.FAILED,
    "REFUND": PayoutState.RETURNED,
    "DEALING": PayoutState.PROCESSING,
    "WAIT_PAY": PayoutState.PROCESSING,
    "INIT": PayoutState.PROCESSING,
}


def transfer_biz(request: PayoutRequest) -> dict[str, Any]:
    """The transfer's ``biz_content``: yuan with two places, the login id and its real name."""
    if request.currency != "CNY":
        raise ValueError(f"Alipay transfers here are in CNY, not {request.currency}")
    if not is_cents(request.amount) or request.amount < MIN_AMOUNT:
        raise ValueError("an Alipay transfer is at least 0.10 with at most 2 decimal places")
    if not request.payee or not request.payee_name:
        raise ValueError("an Alipay transfer to a login id needs the payee's real name")
    return {
        "out_biz_no": request.order_no,
        "trans_amount": format_amount(request.amount),
        "product_code": PRODUCT_CODE,
        "biz_scene": BIZ_SCENE,
        "order_title": (request.remark or DEFAULT_TITLE)[:ORDER_TITLE_MAX_LENGTH],
        "payee_info": {"identity": request.payee, "identity_type": IDENTITY_TYPE, "name": request.payee_name},
    }


def query_biz(order_no: str) -> dict[str, str]:
    return {"out_biz_no": order_no, "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE}


def transfer_result(node: Mapping[str, Any], *, order_no: str) -> PayoutResult:
    """The verified answer to a transfer."""
    what = f"transfer {order_no}"
    _same_order(node, order_no, what)
    if node.get("code") != CODE_SUCCESS:
        return _refusal(node, what)
    status = str(node.get("status") or "")
    if status == DEALING:
        # Accepted, not finished, and Alipay sends this product no notify here: ask again.
        raise UnknownOutcome(f"{what}: Alipay is still dealing with it", code=DEALING)
    state = TRANSFER_STATES.get(status)
    if state is None:
        raise UnknownOutcome(f"{what}: status {status[:32]!r} not understood")
    return _result(node, state, what)


def query_result(node: Mapping[str, Any], *, order_no: str) -> PayoutResult:
    """The verified answer to a query: a state, or NOT_FOUND for a transfer Alipay never had."""
    what = f"transfer query {order_no}"
    if node.get("code") != CODE_SUCCESS:
        code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
        if sub_code == ORDER_NOT_EXIST:
            return PayoutResult(state=PayoutState.NOT_FOUND, code=sub_code, message=_message(node))
        if code in UNKNOWN_CODES or sub_code in UNKNOWN_SUB_CODES:
            raise UnknownOutcome(f"{what}: {code} {sub_code}", code=sub_code or code)
        # A refused query says nothing about the transfer: ask again later.
        raise RetryableError(f"{what} not taken: {code} {sub_code} {_message(node)}", code=sub_code or code)
    _same_order(node, order_no, what)
    status = str(node.get("status") or "")
    state = QUERY_STATES.get(status)
    if state is None:
        raise UnknownOutcome(f"{what}: status {status[:32]!r} not understood")
    return _result(node, state, what)


def _refusal(node: Mapping[str, Any], what: str) -> PayoutResult:
    """A transfer Alipay did not carry out: failed for the listed refusals; not taken (retry)
    when the gateway refused the call itself; unknown for everything else."""
    code, sub_code = str(node.get("code") or ""), str(node.get("sub_code") or "")
    if code == "40004" and sub_code in REFUSALS:
        return PayoutResult(state=PayoutState.FAILED, code=sub_code, message=_message(node) or REFUSALS[sub_code])
    if code in ("40001", "40002", "40006", "20001"):
        # Missing or invalid common parameters, signature or permission, or an invalid token:
        # the gateway stopped the call before the transfer was looked at. Nothing was taken.
        raise RetryableError(f"{what} not taken: {code} {sub_code} {_message(node)}", code=sub_code or code)
    raise UnknownOutcome(f"{what}: {code} {sub_code}", code=sub_code or code)


def _result(node: Mapping[str, Any], state: PayoutState, what: str) -> PayoutResult:
    reference = str(node.get("order_id") or node.get("pay_fund_order_id") or "")
    if state in (PayoutState.SUCCESS, PayoutState.RETURNED) and not reference:
        raise UnknownOutcome(f"{what}: {state} without Alipay's order id")
    if state == PayoutState.FAILED:
        code = str(node.get("error_code") or node.get("status") or "FAIL")
        return PayoutResult(state=state, channel_reference=reference, code=code, message=_failure_reason(node))
    return PayoutResult(state=state, channel_reference=reference, code=str(node.get("status") or ""))


def _same_order(node: Mapping[str, Any], order_no: str, what: str) -> None:
    answered = node.get("out_biz_no")
    if answered is not None and answered != order_no:
        raise UnknownOutcome(f"{what} answered about another order")


def _failure_reason(node: Mapping[str, Any]) -> str:
    return str(node.get("fail_reason") or node.get("sub_msg") or "")[:256]


def _message(node: Mapping[str, Any]) -> str:
    return str(node.get("sub_msg") or node.get("msg") or "")[:256]
