"""The sandbox's WeChat Pay v2 payments and refunds, at WeChat's paths: ``pay/unifiedorder``,
``pay/orderquery``, ``pay/closeorder``, ``secapi/pay/refund`` and ``pay/refundquery``.

Requests must carry this merchant's signature; answers are signed in the request's sign type.
``payment_engine`` decides; this module speaks WeChat's fields and error codes. The payer pays at
the sandbox cashier page, where Native ``code_url`` and H5 ``mweb_url`` point.
"""

from datetime import datetime
from decimal import Decimal
from secrets import token_hex

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.channels.wechat_v2.signing import SignType
from payments.sandbox import payment_engine
from payments.sandbox.cashier import cashier_url
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayment, SandboxRefund
from payments.sandbox.payment_engine import RefundRefusal, RefundRefused
from payments.sandbox.wechat_v2 import (
    CHINA,
    fen_text,
    openid_mask,
    payment_fields,
    request_read,
    signed_answer,
    wechat_time,
)
from wallet.json_input import json_parse

MERCHANT = ("mch_id", "appid")
# What each trade type needs beyond the fields every unified order carries.
TRADE_TYPE_FIELDS = {"JSAPI": ("openid",), "NATIVE": ("product_id",), "APP": (), "MWEB": ("scene_info",)}
ORDER_FIELDS = ("body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
TRADE_STATES = {
    SandboxPayment.State.NOT_PAID: ("NOTPAY", "订单未支付"),
    SandboxPayment.State.PAID: ("SUCCESS", "支付成功"),
    SandboxPayment.State.CLOSED: ("CLOSED", "订单已关闭"),
}
REFUND_STATUS = {
    SandboxRefund.State.PROCESSING: "PROCESSING",
    SandboxRefund.State.SUCCESS: "SUCCESS",
    # A failed refund is closed: definitely not refunded (CHANGE would wait for the merchant).
    SandboxRefund.State.FAILED: "REFUNDCLOSE",
}
REFUSALS = {
    RefundRefusal.PAYMENT_NOT_FOUND: ("ORDERNOTEXIST", "订单不存在"),
    RefundRefusal.NOT_PAID: ("ORDERNOTEXIST", "订单未支付，不能发起退款"),
    RefundRefusal.EXCEEDS_PAID: ("ERROR", "申请退款金额超过订单可退金额"),
    RefundRefusal.AMOUNT_CHANGED: ("REFUND_FEE_MISMATCH", "订单金额或退款金额与之前请求不一致，请核实后再试"),
}


@csrf_exempt
@require_POST
def unifiedorder(request: HttpRequest) -> HttpResponse:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    problem = _order_problem(fields)
    if problem is not None:
        return signed_answer(keys, sign_type, _result_fail(keys, *problem))
    trade_type = fields["trade_type"]
    amount = Decimal(fields["total_fee"]) / 100
    receipt = payment_engine.payment_receive(
        protocol=Protocol.WECHAT_V2,
        order_no=fields["out_trade_no"],
        amount=amount,
        subject=fields["body"],
        method=trade_type,
        notify_url=fields["notify_url"],
        payer_masked=openid_mask(fields["openid"]) if trade_type == "JSAPI" else "",
    )
    payment = receipt.payment
    if receipt.replayed and (payment.amount != amount or payment.method != trade_type):
        answer = _result_fail(keys, "INVALID_REQUEST", "201 商户订单号重复")
    elif receipt.replayed and payment.state == SandboxPayment.State.PAID:
        answer = _result_fail(keys, "ORDERPAID", "该订单已支付")
    elif receipt.replayed and payment.state == SandboxPayment.State.CLOSED:
        answer = _result_fail(keys, "ORDERCLOSED", "该订单已关闭")
    else:
        answer = _prepay_answer(request, payment, keys)
    return signed_answer(keys, sign_type, answer)


@csrf_exempt
@require_POST
def orderquery(request: HttpRequest) -> HttpResponse:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    payment = payment_engine.payment_find(protocol=Protocol.WECHAT_V2, order_no=fields.get("out_trade_no", ""))
    if payment is None:
        return signed_answer(keys, sign_type, _result_fail(keys, "ORDERNOTEXIST", "订单不存在"))
    trade_state, description = TRADE_STATES[SandboxPayment.State(payment.state)]
    if trade_state == "SUCCESS" and payment.refunds.exclude(state=SandboxRefund.State.FAILED).exists():
        trade_state, description = "REFUND", "转入退款"
    answer = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "result_code": "SUCCESS",
        **payment_fields(payment, keys, amount=payment.amount),
        "trade_state": trade_state,
        "trade_state_desc": description,
    }
    return signed_answer(keys, sign_type, answer)


@csrf_exempt
@require_POST
def closeorder(request: HttpRequest) -> HttpResponse:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    order_no = fields.get("out_trade_no", "")
    before = payment_engine.payment_find(protocol=Protocol.WECHAT_V2, order_no=order_no)
    payment = payment_engine.payment_close(protocol=Protocol.WECHAT_V2, order_no=order_no)
    if payment is None:
        answer = _result_fail(keys, "ORDERNOTEXIST", "订单不存在")
    elif payment.state == SandboxPayment.State.PAID:
        answer = _result_fail(keys, "ORDERPAID", "订单已支付，不能发起关单")
    elif before is not None and before.state == SandboxPayment.State.CLOSED:
        answer = _result_fail(keys, "ORDERCLOSED", "订单已关闭，无法重复关闭")
    else:
        answer = {**_result_success(keys), "result_msg": "OK"}
    return signed_answer(keys, sign_type, answer)


@csrf_exempt
@require_POST
def refund(request: HttpRequest) -> HttpResponse:
    """Real WeChat also asks for the merchant's client certificate here; the sandbox does not."""
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    problem = _refund_problem(fields)
    if problem is not None:
        return signed_answer(keys, sign_type, _result_fail(keys, *problem))
    order_no = fields["out_trade_no"]
    payment = payment_engine.payment_find(protocol=Protocol.WECHAT_V2, order_no=order_no)
    if payment is not None and fields.get("transaction_id", payment.transaction_id) != payment.transaction_id:
        return signed_answer(keys, sign_type, _result_fail(keys, "INVALID_TRANSACTIONID", "无效transaction_id"))
    if payment is not None and fen_text(payment.amount) != fields["total_fee"]:
        return signed_answer(keys, sign_type, _result_fail(keys, "PARAM_ERROR", "订单金额total_fee与支付金额不一致"))
    try:
        taken, _replayed = payment_engine.refund_receive(
            protocol=Protocol.WECHAT_V2,
            order_no=order_no,
            refund_no=fields["out_refund_no"],
            amount=Decimal(fields["refund_fee"]) / 100,
            notify_url=fields.get("notify_url", ""),
        )
    except RefundRefused as refused:
        return signed_answer(keys, sign_type, _result_fail(keys, *REFUSALS[refused.reason]))
    answer = {
        **_result_success(keys),
        "transaction_id": taken.payment.transaction_id,
        "out_trade_no": order_no,
        "out_refund_no": taken.refund_no,
        "refund_id": taken.refund_id,
        "refund_fee": fen_text(taken.amount),
        "settlement_refund_fee": fen_text(taken.amount),
        "total_fee": fen_text(taken.payment.amount),
        "settlement_total_fee": fen_text(taken.payment.amount),
        "fee_type": "CNY",
        "cash_fee": fen_text(taken.payment.amount),
        "cash_refund_fee": fen_text(taken.amount),
    }
    return signed_answer(keys, sign_type, answer)


@csrf_exempt
@require_POST
def refundquery(request: HttpRequest) -> HttpResponse:
    """By ``out_refund_no``: the one refund, numbered 0 as WeChat numbers a query's refunds."""
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    sign_type = fields.get("sign_type") or SignType.MD5
    found = payment_engine.refund_find(protocol=Protocol.WECHAT_V2, refund_no=fields.get("out_refund_no", ""))
    if found is None:
        return signed_answer(keys, sign_type, _result_fail(keys, "REFUNDNOTEXIST", "退款订单查询失败"))
    payment = found.payment
    status = REFUND_STATUS[SandboxRefund.State(found.state)]
    answer = {
        **_result_success(keys),
        "transaction_id": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "total_fee": fen_text(payment.amount),
        "settlement_total_fee": fen_text(payment.amount),
        "fee_type": "CNY",
        "cash_fee": fen_text(payment.amount),
        "refund_count": "1",
        "out_refund_no_0": found.refund_no,
        "refund_id_0": found.refund_id,
        "refund_channel_0": "ORIGINAL",
        "refund_fee_0": fen_text(found.amount),
        "settlement_refund_fee_0": fen_text(found.amount),
        "refund_status_0": status,
        "refund_account_0": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_recv_accout_0": "支付用户的零钱",
        "refund_success_time_0": wechat_time(found.finished_at) if status == "SUCCESS" and found.finished_at else "",
    }
    return signed_answer(keys, sign_type, answer)


def _order_problem(fields: dict[str, str]) -> tuple[str, str] | None:
    """The err_code and description WeChat gives a unified order it will not open, if any."""
    trade_type = fields.get("trade_type", "")
    required = (*ORDER_FIELDS, *TRADE_TYPE_FIELDS.get(trade_type, ()))
    missing = [name for name in required if not fields.get(name)]
    if missing:
        return "LACK_PARAMS", f"缺少参数{missing[0]}"
    if trade_type not in TRADE_TYPE_FIELDS:
        return "PARAM_ERROR", "trade_type参数错误"
    if not _fen_valid(fields["total_fee"]):
        return "PARAM_ERROR", "total_fee参数错误"
    if fields.get("fee_type", "CNY") != "CNY":
        return "PARAM_ERROR", "fee_type参数错误"
    if not _compact_time_valid(fields.get("time_expire", "")):
        return "PARAM_ERROR", "time_expire时间格式错误"
    if trade_type == "MWEB" and not _h5_scene_valid(fields["scene_info"]):
        return "PARAM_ERROR", "scene_info参数错误"
    return None


def _refund_problem(fields: dict[str, str]) -> tuple[str, str] | None:
    missing = [name for name in ("out_trade_no", "out_refund_no", "total_fee", "refund_fee") if not fields.get(name)]
    if missing:
        return "PARAM_ERROR", f"缺少参数{missing[0]}"
    if not (_fen_valid(fields["total_fee"]) and _fen_valid(fields["refund_fee"])):
        return "PARAM_ERROR", "退款金额参数错误"
    return None


def _prepay_answer(request: HttpRequest, payment: SandboxPayment, keys: dict) -> dict[str, str]:
    prepay_id = f"wx{payment.created_at.astimezone(CHINA):%d%H%M%S}{payment.transaction_id[-26:].lower()}"
    answer = {**_result_success(keys), "trade_type": payment.method, "prepay_id": prepay_id}
    if payment.method == "NATIVE":
        answer["code_url"] = cashier_url(request, payment)
    elif payment.method == "MWEB":
        answer["mweb_url"] = f"{cashier_url(request, payment)}?prepay_id={prepay_id}"
    return answer


def _result_success(keys: dict) -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": keys["appid"],
        "mch_id": keys["mch_id"],
        "nonce_str": token_hex(16),
        "result_code": "SUCCESS",
    }


def _result_fail(keys: dict, err_code: str, description: str) -> dict[str, str]:
    return {**_result_success(keys), "result_code": "FAIL", "err_code": err_code, "err_code_des": description}


def _fen_valid(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) > 0


def _compact_time_valid(text: str) -> bool:
    """Absent, or ``yyyyMMddHHmmss``."""
    if not text:
        return True
    try:
        datetime.strptime(f"{text}+0800", "%Y%m%d%H%M%S%z")
    except ValueError:
        return False
    return len(text) == 14


def _h5_scene_valid(scene_info: str) -> bool:
    try:
        scene = json_parse(scene_info)
    except ValueError:
        return False
    return isinstance(scene, dict) and isinstance(scene.get("h5_info"), dict)


urlpatterns = [
    path("pay/unifiedorder", unifiedorder, name="sandbox-wechat-v2-unifiedorder"),
    path("pay/orderquery", orderquery, name="sandbox-wechat-v2-orderquery"),
    path("pay/closeorder", closeorder, name="sandbox-wechat-v2-closeorder"),
    path("secapi/pay/refund", refund, name="sandbox-wechat-v2-refund"),
    path("pay/refundquery", refundquery, name="sandbox-wechat-v2-refundquery"),
]
