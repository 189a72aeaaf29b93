"""Sandbox of WeChat Pay v3 direct-merchant payments and refunds, at WeChat's own paths: prepay
(JSAPI, APP, H5, Native), query and close by ``out_trade_no``, domestic refunds, and the
TRANSACTION.SUCCESS / REFUND.* notifies. ``payment_engine`` decides; this module speaks the wire.

It also holds the wire both halves of the sandbox share (the merchant signature check, the
platform-signed answer), so ``wechat_v3`` imports from here and not the other way round.
"""

import base64
import ipaddress
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from payments.channels.wechat_v3 import signing
from payments.identifiers import openid_mask
from payments.sandbox import payment_engine
from payments.sandbox.cashier import cashier_url
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayment, SandboxRefund
from payments.sandbox.payment_engine import RefundRefusal, RefundRefused
from wallet.json_input import json_parse
from wallet.money import CENT

TRANSACTIONS = "v3/pay/transactions"
REFUNDS = "v3/refund/domestic/refunds"
# Path segment -> trade_type, which the sandbox keeps as the payment's method.
TRADE_TYPES = {"jsapi": "JSAPI", "app": "APP", "h5": "MWEB", "native": "NATIVE"}
TRADE_STATES = {
    SandboxPayment.State.NOT_PAID: "NOTPAY",
    SandboxPayment.State.PAID: "SUCCESS",
    SandboxPayment.State.CLOSED: "CLOSED",
}
TRADE_STATE_DESCRIPTIONS = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}
REFUND_STATES = {
    SandboxRefund.State.PROCESSING: "PROCESSING",
    SandboxRefund.State.SUCCESS: "SUCCESS",
    # A failed refund is closed: definitely not refunded (ABNORMAL would wait for the merchant).
    SandboxRefund.State.FAILED: "CLOSED",
}
REFUND_EVENTS = {
    SandboxRefund.State.SUCCESS: ("REFUND.SUCCESS", "退款成功"),
    SandboxRefund.State.FAILED: ("REFUND.CLOSED", "退款关闭"),
}
# WeChat documents RESOURCE_NOT_EXISTS for an unknown or unpaid order; an amount over what is
# left to refund, or a refund number reused with other parameters, only gets INVALID_REQUEST.
REFUND_REFUSALS = {
    RefundRefusal.PAYMENT_NOT_FOUND: (404, "RESOURCE_NOT_EXISTS", "订单不存在"),
    RefundRefusal.NOT_PAID: (404, "RESOURCE_NOT_EXISTS", "订单未支付，未支付的订单不能发起退款"),
    RefundRefusal.EXCEEDS_PAID: (400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"),
    RefundRefusal.AMOUNT_CHANGED: (400, "INVALID_REQUEST", "退款单号重复，但退款金额与首次请求不一致"),
}
SIGN_ERROR = {"code": "SIGN_ERROR", "message": "签名错误"}
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*|]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-*|@]{1,64}$")


def payment_notify_build(
    payment: SandboxPayment, secrets: dict, *, amount: Decimal, forged: bool
) -> tuple[dict[str, str], bytes]:
    """TRANSACTION.SUCCESS of a paid payment claiming ``amount`` (signed correctly whatever it
    claims); when ``forged`` the signature no longer verifies."""
    transaction = _transaction(payment, secrets, trade_state="SUCCESS", amount=amount)
    headers, body = _notify(
        secrets, event="TRANSACTION.SUCCESS", summary="支付成功", kind="transaction", plain=transaction
    )
    if forged:
        signature = bytearray(base64.b64decode(headers["Wechatpay-Signature"]))
        signature[0] ^= 0x01
        headers["Wechatpay-Signature"] = base64.b64encode(bytes(signature)).decode()
    return headers, body


def refund_notify_build(refund: SandboxRefund, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """REFUND.SUCCESS or REFUND.CLOSED of a settled refund; None while it is processing."""
    if refund.state not in REFUND_EVENTS:
        return None
    event, summary = REFUND_EVENTS[SandboxRefund.State(refund.state)]
    detail = _refund(refund)
    resource = {
        "mchid": secrets["mchid"],
        "out_trade_no": detail["out_trade_no"],
        "transaction_id": detail["transaction_id"],
        "out_refund_no": detail["out_refund_no"],
        "refund_id": detail["refund_id"],
        "refund_status": detail["status"],
        "user_received_account": detail["user_received_account"],
        "amount": {key: detail["amount"][key] for key in ("total", "refund", "payer_total", "payer_refund")},
    }
    if "success_time" in detail:
        resource["success_time"] = detail["success_time"]
    return _notify(secrets, event=event, summary=summary, kind="refund", plain=resource)


@csrf_exempt
@require_POST
def transaction_prepay(request: HttpRequest, kind: str) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    order = _json(request)
    problem = _prepay_problem(order, kind, secrets)
    if problem is not None:
        return signed_answer(secrets, 400, {"code": problem[0], "message": problem[1]})
    openid = order["payer"]["openid"] if kind == "jsapi" else ""
    receipt = payment_engine.payment_receive(
        protocol=Protocol.WECHAT_V3,
        order_no=order["out_trade_no"],
        amount=_yuan(order["amount"]["total"]),
        subject=order["description"],
        method=TRADE_TYPES[kind],
        notify_url=order["notify_url"],
        payer_masked=openid_mask(openid) if openid else "",
    )
    payment = receipt.payment
    if receipt.replayed:
        refusal = _replay_refusal(payment, order, kind)
        if refusal is not None:
            return signed_answer(secrets, 400, {"code": refusal[0], "message": refusal[1]})
    if kind == "native":
        return signed_answer(secrets, 200, {"code_url": cashier_url(request, payment)})
    if kind == "h5":
        return signed_answer(secrets, 200, {"h5_url": cashier_url(request, payment)})
    return signed_answer(secrets, 200, {"prepay_id": f"wx{payment.transaction_id.lower()}"})


@csrf_exempt
@require_GET
def transaction_query(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    if request.GET.get("mchid") != secrets["mchid"]:
        return signed_answer(secrets, 400, {"code": "PARAM_ERROR", "message": "mchid 必填且须为本商户号"})
    payment = payment_engine.payment_find(protocol=Protocol.WECHAT_V3, order_no=out_trade_no)
    if payment is None:
        return signed_answer(secrets, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    refunded = payment.refunds.filter(state=SandboxRefund.State.SUCCESS).exists()
    state = "REFUND" if refunded else TRADE_STATES[SandboxPayment.State(payment.state)]
    return signed_answer(secrets, 200, _transaction(payment, secrets, trade_state=state, amount=payment.amount))


@csrf_exempt
@require_POST
def transaction_close(request: HttpRequest, out_trade_no: str) -> HttpResponse:
    """204 for a closed order, again or not; WeChat's ORDERPAID for one the payer already paid."""
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    if _json(request).get("mchid") != secrets["mchid"]:
        return signed_answer(secrets, 400, {"code": "PARAM_ERROR", "message": "mchid 必填且须为本商户号"})
    payment = payment_engine.payment_close(protocol=Protocol.WECHAT_V3, order_no=out_trade_no)
    if payment is None:
        return signed_answer(secrets, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    if payment.state == SandboxPayment.State.PAID:
        return signed_answer(secrets, 400, {"code": "ORDERPAID", "message": "订单已支付"})
    response = HttpResponse(status=204, headers=platform_headers(secrets, b""))
    del response["Content-Type"]
    return response


@csrf_exempt
@require_POST
def refund_create(request: HttpRequest) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    refund = _json(request)
    problem = _refund_problem(refund)
    if problem is not None:
        return signed_answer(secrets, 400, {"code": problem[0], "message": problem[1]})
    payment = payment_engine.payment_find(protocol=Protocol.WECHAT_V3, order_no=refund["out_trade_no"])
    if payment is not None and _yuan(refund["amount"]["total"]) != payment.amount:
        return signed_answer(secrets, 400, {"code": "PARAM_ERROR", "message": "订单金额与原订单不一致"})
    try:
        taken, _ = payment_engine.refund_receive(
            protocol=Protocol.WECHAT_V3,
            order_no=refund["out_trade_no"],
            refund_no=refund["out_refund_no"],
            amount=_yuan(refund["amount"]["refund"]),
            notify_url=refund.get("notify_url", ""),
        )
    except RefundRefused as refused:
        status, code, message = REFUND_REFUSALS[refused.reason]
        return signed_answer(secrets, status, {"code": code, "message": message})
    return signed_answer(secrets, 200, _refund(taken))


@csrf_exempt
@require_GET
def refund_query(request: HttpRequest, out_refund_no: str) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    refund = payment_engine.refund_find(protocol=Protocol.WECHAT_V3, refund_no=out_refund_no)
    if refund is None:
        return signed_answer(secrets, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
    return signed_answer(secrets, 200, _refund(refund))


urlpatterns = [
    *(path(f"{TRANSACTIONS}/{kind}", transaction_prepay, {"kind": kind}) for kind in TRADE_TYPES),
    path(f"{TRANSACTIONS}/out-trade-no/<str:out_trade_no>", transaction_query),
    path(f"{TRANSACTIONS}/out-trade-no/<str:out_trade_no>/close", transaction_close),
    path(REFUNDS, refund_create),
    path(f"{REFUNDS}/<str:out_refund_no>", refund_query),
]


def merchant_signed(request: HttpRequest, secrets: dict) -> bool:
    """The merchant's Authorization: its mchid and certificate serial, a fresh timestamp, and a
    signature over exactly what was sent, under the merchant public key."""
    fields = signing.authorization_parse(request.headers.get("Authorization", ""))
    if fields is None:
        return False
    if not (
        signing.constant_time_equal(fields["mchid"], secrets["mchid"])
        and signing.constant_time_equal(fields["serial_no"], secrets["merchant_serial"])
        and signing.timestamp_fresh(fields["timestamp"])
    ):
        return False
    message = signing.request_message(
        method=request.method or "",
        path=request.get_full_path(),
        timestamp=fields["timestamp"],
        nonce=fields["nonce_str"],
        body=request.body,
    )
    return signing.signature_valid(
        signing.public_key_load(secrets["merchant_public_key"]), message, fields["signature"]
    )


def signed_answer(secrets: dict, status: int, payload: dict[str, Any]) -> HttpResponse:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Request-ID": uuid.uuid4().hex, **platform_headers(secrets, body)}
    return HttpResponse(body, status=status, content_type="application/json", headers=headers)


def platform_headers(secrets: dict, body: bytes) -> dict[str, str]:
    return signing.wechatpay_headers_create(
        private_key=signing.private_key_load(secrets["platform_private_key"]),
        serial=secrets["platform_serial"],
        body=body,
    )


def wechat_time(moment: datetime) -> str:
    """RFC 3339 in China time, as WeChat writes it: 2025-01-01T12:00:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _prepay_problem(order: dict[str, Any], kind: str, secrets: dict) -> tuple[str, str] | None:
    """WeChat's refusal of a malformed prepay, as (code, message); None when it is acceptable."""
    if order.get("appid") != secrets["appid"] or order.get("mchid") != secrets["mchid"]:
        return "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"
    if not isinstance(order.get("description"), str) or not 1 <= len(order["description"]) <= 127:
        return "PARAM_ERROR", "description 必填且不超过 127 个字符"
    if not isinstance(order.get("out_trade_no"), str) or not _OUT_TRADE_NO.match(order["out_trade_no"]):
        return "PARAM_ERROR", "out_trade_no 只能由 6 到 32 位数字、字母和 _-|* 组成"
    if not isinstance(order.get("notify_url"), str) or not order["notify_url"].startswith(("https://", "http://")):
        return "PARAM_ERROR", "notify_url 必须是 URL"
    if "time_expire" in order and not _rfc3339(order["time_expire"]):
        return "PARAM_ERROR", "time_expire 必须是 RFC 3339 时间"
    amount = order.get("amount")
    if not isinstance(amount, dict) or not _fen_valid(amount.get("total")) or amount.get("currency", "CNY") != "CNY":
        return "PARAM_ERROR", "amount.total 必须是正整数（分），currency 为 CNY"
    payer = order.get("payer")
    if kind == "jsapi" and not (isinstance(payer, dict) and isinstance(payer.get("openid"), str) and payer["openid"]):
        return "PARAM_ERROR", "JSAPI 下单 payer.openid 必填"
    scene = order.get("scene_info", {})
    if kind == "h5" and not (
        isinstance(scene, dict)
        and _ip_valid(scene.get("payer_client_ip"))
        and isinstance(scene.get("h5_info"), dict)
        and scene["h5_info"].get("type")
    ):
        return "PARAM_ERROR", "H5 下单 scene_info.payer_client_ip 与 h5_info.type 必填"
    return None


def _replay_refusal(payment: SandboxPayment, order: dict[str, Any], kind: str) -> tuple[str, str] | None:
    """A second prepay of an order number: the same order gets the same answer while it is open."""
    if payment.amount != _yuan(order["amount"]["total"]) or payment.method != TRADE_TYPES[kind]:
        return "INVALID_REQUEST", "201 商户订单号重复"
    if payment.state == SandboxPayment.State.PAID:
        return "ORDERPAID", "该订单已支付"
    if payment.state == SandboxPayment.State.CLOSED:
        return "ORDER_CLOSED", "订单已关闭"
    return None


def _refund_problem(refund: dict[str, Any]) -> tuple[str, str] | None:
    if not isinstance(refund.get("out_trade_no"), str) or not _OUT_TRADE_NO.match(refund["out_trade_no"]):
        return "PARAM_ERROR", "out_trade_no 必填"
    if not isinstance(refund.get("out_refund_no"), str) or not _OUT_REFUND_NO.match(refund["out_refund_no"]):
        return "PARAM_ERROR", "out_refund_no 只能由 1 到 64 位数字、字母和 _-|*@ 组成"
    if not isinstance(refund.get("reason", ""), str) or len(refund.get("reason", "")) > 80:
        return "PARAM_ERROR", "reason 不超过 80 个字符"
    if not isinstance(refund.get("notify_url", ""), str):
        return "PARAM_ERROR", "notify_url 必须是 URL"
    amount = refund.get("amount")
    if not (
        isinstance(amount, dict)
        and _fen_valid(amount.get("refund"))
        and _fen_valid(amount.get("total"))
        and amount.get("currency") == "CNY"
    ):
        return "PARAM_ERROR", "amount.refund 与 amount.total 必须是正整数（分），currency 为 CNY"
    if amount["refund"] > amount["total"]:
        return "PARAM_ERROR", "退款金额不能大于订单金额"
    return None


def _transaction(payment: SandboxPayment, secrets: dict, *, trade_state: str, amount: Decimal) -> dict[str, Any]:
    """A transaction as a query answers it and TRANSACTION.SUCCESS carries it."""
    paid = payment.state == SandboxPayment.State.PAID
    total = _fen(amount)
    detail: dict[str, Any] = {
        "appid": secrets["appid"],
        "mchid": secrets["mchid"],
        "out_trade_no": payment.order_no,
        "trade_type": payment.method,
        "trade_state": trade_state,
        "trade_state_desc": TRADE_STATE_DESCRIPTIONS[trade_state],
        "attach": "",
        "amount": {"total": total, "currency": "CNY", "payer_currency": "CNY"},
    }
    if paid and payment.paid_at is not None:
        detail["transaction_id"] = payment.transaction_id
        detail["bank_type"] = "OTHERS"
        detail["success_time"] = wechat_time(payment.paid_at)
        detail["payer"] = {"openid": payment.payer_masked}
        detail["amount"]["payer_total"] = total
    return detail


def _refund(refund: SandboxRefund) -> dict[str, Any]:
    """A refund as its answer and its query carry it."""
    payment = refund.payment
    detail: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.refund_no,
        "transaction_id": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": wechat_time(refund.created_at),
        "status": REFUND_STATES[SandboxRefund.State(refund.state)],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": _fen(payment.amount),
            "refund": _fen(refund.amount),
            "payer_total": _fen(payment.amount),
            "payer_refund": _fen(refund.amount),
            "settlement_total": _fen(payment.amount),
            "settlement_refund": _fen(refund.amount),
            "discount_refund": 0,
            "refund_fee": 0,
            "currency": "CNY",
        },
        "promotion_detail": [],
    }
    if refund.state == SandboxRefund.State.SUCCESS and refund.finished_at is not None:
        detail["success_time"] = wechat_time(refund.finished_at)
    return detail


def _notify(
    secrets: dict, *, event: str, summary: str, kind: str, plain: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    """A platform-signed notify whose resource is ``plain`` under the API v3 key."""
    resource = signing.resource_encrypt(
        key=secrets["api_v3_key"].encode(),
        plaintext=json.dumps(plain, ensure_ascii=False).encode(),
        associated_data=kind,
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": wechat_time(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": event,
        "summary": summary,
        "resource": {"original_type": kind, **resource},
    }
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return {"Content-Type": "application/json", **platform_headers(secrets, body)}, body


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json_parse(request.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _rfc3339(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _ip_valid(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _fen_valid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)
