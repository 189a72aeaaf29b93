"""Sandbox of Alipay's single transfer to an Alipay account (``alipay.fund.trans.uni.transfer``)
and its query (``alipay.fund.trans.common.query``), on the same gateway URL as every other
Alipay method: ``gateway`` takes these two and hands the rest to ``alipay_gateway``.

Like Alipay it checks the common parameters and the merchant's signature first, then the
business content, then the payee: a login id it does not know, or a real name that is not the
one it knows for the login id, is refused as Alipay refuses it (``PAYEE_NOT_EXIST``,
``PAYEE_USER_INFO_ERROR``) and recorded, so the same order number again answers the same
refusal. Anything else plays the scenario rules (engine.py) and pays at most once per
``out_biz_no``. Alipay sends this product no notify to a URL: the transfer's answer and the
query tell.

The sandbox's Alipay users (``KNOWN_PAYEES``): the accounts it knows by name; every other
well-formed login id exists with whatever real name is given, except mobile numbers ending in
0000 and emails starting with ``nobody``, which do not exist.
"""

import re
from collections.abc import Mapping
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from payments import identifiers
from payments.channels.alipay.transfers import BIZ_SCENE, IDENTITY_TYPE, PRODUCT_CODE, QUERY, TRANSFER
from payments.sandbox import alipay_gateway, engine
from payments.sandbox.alipay_gateway import ANSWER_TYPE, Payload, Refusal
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayout, Scenario
from wallet import errors
from wallet.money import AmountError, format_amount, parse_amount

# Login id -> the real name Alipay has for it: any other name is PAYEE_USER_INFO_ERROR.
KNOWN_PAYEES = {
    "13800138000": "张三",
    "zhangsan@example.com": "张三",
    "13900139000": "李四",
}
MIN_AMOUNT = Decimal("0.10")
# The most one transfer pays to a person's account.
MAX_AMOUNT = Decimal("50000.00")
ORDER_TITLE_MAX = 128
WIRE_STATUS = {
    SandboxPayout.State.PROCESSING: "DEALING",
    SandboxPayout.State.SUCCESS: "SUCCESS",
    SandboxPayout.State.FAILED: "FAIL",
    SandboxPayout.State.RETURNED: "REFUND",
}
# What Alipay says of each refusal the sandbox plays; other codes (a rule's own) get a generic text.
REFUSAL_MESSAGES = {
    "PAYEE_NOT_EXIST": "收款账号不存在",
    "PAYEE_USER_INFO_ERROR": "支付宝账号和姓名不匹配，请确认姓名是否正确",
    "PAYEE_ACCOUNT_STATUS_ERROR": "收款方账号异常",
    "EXCEED_LIMIT_SM_MIN_AMOUNT": "单笔最低转账金额0.1元",
    "EXCEED_LIMIT_PERSONAL_SM_AMOUNT": "转账给个人支付宝账户单笔最多5万元",
    "PAYMENT_INFO_INCONSISTENCY": "两次请求商户单号一样，但是参数不一致",
}
_OUT_BIZ_NO = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def gateway(request: HttpRequest) -> HttpResponse:
    """Alipay's one gateway URL: transfers and their queries here, every other method there."""
    params = {**request.GET.dict(), **request.POST.dict()}
    method = params.get("method", "")
    if method not in (TRANSFER, QUERY):
        return alipay_gateway.gateway(request)
    secrets = keys_for(Protocol.ALIPAY)
    node = f"{method.replace('.', '_')}_response"
    try:
        alipay_gateway.request_check(params, secrets)
        biz = alipay_gateway.biz_content(params)
        if method == TRANSFER:
            return _transfer(biz, secrets, node)
        payload = _query(biz)
    except Refusal as refusal:
        payload = refusal.payload
    return _answer(secrets, node, payload)


def _payee_refusal(login_id: str, name: str) -> str:
    """Alipay's check of the payee: the refusal's sub_code, or empty when the payee is fine."""
    try:
        login = identifiers.alipay_login_normalise(login_id)
    except errors.ValidationFailed:
        return "PAYEE_NOT_EXIST"
    if login.endswith("0000") or login.startswith("nobody"):
        return "PAYEE_NOT_EXIST"
    known = KNOWN_PAYEES.get(login)
    if known is not None and known != name:
        return "PAYEE_USER_INFO_ERROR"
    return ""


def _transfer(biz: Payload, secrets: Mapping[str, str], node: str) -> HttpResponse:
    order_no = _out_biz_no(biz)
    amount = _trans_amount(biz)
    if biz.get("product_code") != PRODUCT_CODE or biz.get("biz_scene") != BIZ_SCENE:
        raise Refusal(_invalid(f"product_code 应为 {PRODUCT_CODE}，biz_scene 应为 {BIZ_SCENE}"))
    title = biz.get("order_title")
    if not isinstance(title, str) or not title or len(title) > ORDER_TITLE_MAX:
        raise Refusal(_invalid("order_title 必填且不超过 128 个字符"))
    payee = biz.get("payee_info")
    if not isinstance(payee, dict) or payee.get("identity_type") != IDENTITY_TYPE:
        raise Refusal(_invalid(f"payee_info.identity_type 应为 {IDENTITY_TYPE}"))
    login_id, name = payee.get("identity"), payee.get("name")
    if not isinstance(login_id, str) or not login_id or not isinstance(name, str) or not name:
        raise Refusal(_invalid("identity_type 为 ALIPAY_LOGON_ID 时 identity 与 name 必填"))
    refusal = _amount_refusal(amount) or _payee_refusal(login_id, name)
    decision = engine.payout_receive(
        protocol=Protocol.ALIPAY,
        order_no=order_no,
        amount=amount,
        payee_masked=_masked(login_id),
        refusal=refusal,
    )
    payout = decision.payout
    if payout is None:  # TIMEOUT or SERVER_ERROR: nothing taken
        if decision.scenario == Scenario.TIMEOUT:
            engine.pause(decision.delay)
            return HttpResponse("gateway timeout", status=504, content_type="text/plain")
        return HttpResponse("<html><body>500 Internal Server Error</body></html>", status=500)
    if decision.scenario == Scenario.SLOW:
        engine.pause(decision.delay)
    if decision.replayed and payout.amount != amount:
        payload = _business("PAYMENT_INFO_INCONSISTENCY", out_biz_no=order_no)
    elif payout.state == SandboxPayout.State.FAILED:
        payload = _business(payout.failure_code, out_biz_no=order_no)
    else:
        payload = {
            **_success(),
            "out_biz_no": payout.order_no,
            "order_id": payout.channel_reference,
            "pay_fund_order_id": _fund_order_id(payout),
            "status": WIRE_STATUS[SandboxPayout.State(payout.state)],
            "trans_date": alipay_gateway.time_text(payout.created_at),
        }
    response = _answer(secrets, node, payload)
    if decision.scenario == Scenario.DROP_RESPONSE:
        response.content = response.content[: len(response.content) // 2]
    return response


def _query(biz: Payload) -> Payload:
    order_no = _out_biz_no(biz)
    if biz.get("product_code") != PRODUCT_CODE or biz.get("biz_scene") != BIZ_SCENE:
        raise Refusal(_invalid("传了 out_biz_no 时 product_code 与 biz_scene 必填"))
    payout = engine.payout_find(protocol=Protocol.ALIPAY, order_no=order_no)
    if payout is None:
        raise Refusal(_business("ORDER_NOT_EXIST", sub_msg="转账订单不存在"))
    answer: Payload = {
        **_success(),
        "order_id": payout.channel_reference,
        "pay_fund_order_id": _fund_order_id(payout),
        "out_biz_no": payout.order_no,
        "trans_amount": format_amount(payout.amount),
        "status": WIRE_STATUS[SandboxPayout.State(payout.state)],
        "order_fee": format_amount(payout.fee),
    }
    if payout.state in engine.PAID:
        answer["pay_date"] = alipay_gateway.time_text(payout.finished_at)
    if payout.state == SandboxPayout.State.FAILED:
        answer["error_code"] = payout.failure_code
        answer["fail_reason"] = REFUSAL_MESSAGES.get(payout.failure_code, "转账失败")
    return answer


def _amount_refusal(amount: Decimal) -> str:
    if amount < MIN_AMOUNT:
        return "EXCEED_LIMIT_SM_MIN_AMOUNT"
    if amount > MAX_AMOUNT:
        return "EXCEED_LIMIT_PERSONAL_SM_AMOUNT"
    return ""


def _out_biz_no(biz: Payload) -> str:
    order_no = biz.get("out_biz_no")
    if not isinstance(order_no, str) or not _OUT_BIZ_NO.match(order_no):
        raise Refusal(_invalid("out_biz_no 必填，只支持半角英文、数字及 - _"))
    return order_no


def _trans_amount(biz: Payload) -> Decimal:
    """Yuan with at most two places, as a string (Alipay's SDKs send one)."""
    value = biz.get("trans_amount")
    try:
        amount = parse_amount(value) if isinstance(value, str) else None
    except AmountError:
        amount = None
    if amount is None:
        raise Refusal(_invalid("trans_amount 应为金额，单位元，最多两位小数"))
    return amount


def _masked(login_id: str) -> str:
    """What the sandbox keeps of a login id: its mask, never the id."""
    try:
        return identifiers.alipay_login_mask(identifiers.alipay_login_normalise(login_id))
    except errors.ValidationFailed:
        return "***"


def _fund_order_id(payout: SandboxPayout) -> str:
    return f"{payout.channel_reference}F"


def _answer(secrets: Mapping[str, str], node: str, payload: Payload) -> HttpResponse:
    return HttpResponse(alipay_gateway.answer_text(secrets, node, payload), content_type=ANSWER_TYPE)


def _success() -> Payload:
    return {"code": "10000", "msg": "Success"}


def _business(sub_code: str, *, sub_msg: str = "", **extra: str) -> Payload:
    message = sub_msg or REFUSAL_MESSAGES.get(sub_code, "业务处理失败")
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": message, **extra}


def _invalid(sub_msg: str) -> Payload:
    return _business("INVALID_PARAMETER", sub_msg=f"参数有误：{sub_msg}")
