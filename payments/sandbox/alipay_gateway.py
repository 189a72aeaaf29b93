"""Sandbox of Alipay's open-platform gateway (``/sandbox/alipay/gateway.do``), of the Alipay
app taking an order string (``/sandbox/alipay/app_pay``) and of Alipay's bill file server
(``/sandbox/alipay/downloadBillFile.resource``, where ``bill.downloadurl.query`` links).

Like Alipay it checks the common parameters and the merchant's RSA2 signature before anything
else (a bad one gets 40002 ``isv.invalid-signature`` and opens or refunds nothing), answers
every API call with the ``<method>_response`` object signed with Alipay's key, and refuses in
Alipay's codes (40004 with ``ACQ.*`` sub_codes). A page or wap payment is opened by the
payer's browser arriving with the signed URL, then sent on to the sandbox cashier.
"""

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.db.models import Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from payments.channels.alipay import signing
from payments.channels.base import PaymentMethod
from payments.sandbox import payment_engine
from payments.sandbox.bill_alipay import alipay_bill_name
from payments.sandbox.bill_alipay_account import alipay_account_bill_name
from payments.sandbox.bill_rules import BillNotPublished
from payments.sandbox.bills import bill_store, bill_stored_open
from payments.sandbox.cashier import cashier_url
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, PaymentScenario, Protocol, SandboxPayment, SandboxRefund
from wallet.json_input import json_parse
from wallet.money import ZERO, AmountError, format_amount, parse_amount

# API method -> (our payment method, the product code it must carry).
PAY_METHODS = {
    "alipay.trade.page.pay": (PaymentMethod.ALIPAY_PAGE, "FAST_INSTANT_TRADE_PAY"),
    "alipay.trade.wap.pay": (PaymentMethod.ALIPAY_WAP, "QUICK_WAP_WAY"),
    "alipay.trade.app.pay": (PaymentMethod.ALIPAY_APP, "QUICK_MSECURITY_PAY"),
}
TRADE_STATUS = {
    SandboxPayment.State.NOT_PAID: "WAIT_BUYER_PAY",
    SandboxPayment.State.PAID: "TRADE_SUCCESS",
    SandboxPayment.State.CLOSED: "TRADE_CLOSED",
}
REFUSALS = {
    payment_engine.RefundRefusal.PAYMENT_NOT_FOUND: ("ACQ.TRADE_NOT_EXIST", "交易不存在"),
    payment_engine.RefundRefusal.NOT_PAID: ("ACQ.TRADE_STATUS_ERROR", "交易状态非法"),
    payment_engine.RefundRefusal.EXCEEDS_PAID: ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"),
    payment_engine.RefundRefusal.AMOUNT_CHANGED: ("ACQ.DISCORDANT_REPEAT_REQUEST", "请求信息不一致"),
}
# A signed pay request opened after its time_expire: the trade is closed by timeout.
EXPIRED = ("ACQ.TRADE_HAS_CLOSE", "交易已超时关闭")
# What the REFUND_FAIL scenario answers: Alipay refunds synchronously, so it refuses at once.
REFUND_FAILURE = ("ACQ.BUYER_ERROR", "买家状态异常")
MAX_TOTAL_AMOUNT = parse_amount("100000000")
NOTIFY_URL_MAX = SandboxPayment._meta.get_field("notify_url").max_length or 300
SUBJECT_MAX = 256
# A required common parameter -> the sub_code of its absence, in the order Alipay checks them.
MISSING = {
    "app_id": "isv.missing-app-id",
    "method": "isv.missing-method",
    "sign_type": "isv.missing-signature-type",
    "sign": "isv.missing-signature",
    "charset": "isv.missing-charset",
    "timestamp": "isv.missing-timestamp",
    "version": "isv.missing-version",
}
# The Alipay app's resultStatus codes.
APP_PAID, APP_PROCESSING, APP_FAILED, APP_CANCELLED = "9000", "8000", "4000", "6001"
ANSWER_TYPE = "text/html;charset=utf-8"  # What Alipay's gateway declares for its JSON answers.
BILL_URL_QUERY = "alipay.data.dataservice.bill.downloadurl.query"
BILL_FILE_NAME = "sandbox-alipay-bill-file"
# bill_type -> our bill, the file server's bizType (Alipay's: ``fnd`` for the account bill), the file's name.
BILL_TYPES: dict[object, tuple[BillKind, str, Callable[[str, date], str]]] = {
    "trade": (BillKind.TRADE, "trade", alipay_bill_name),
    "signcustomer": (BillKind.PAYOUT, "fnd", alipay_account_bill_name),
}
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_]{1,64}$")
_BILL_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_BILL_FILE_NAME = re.compile(r"^\d{16}_\d{8}(_signcustomer)?\.csv\.zip$", re.ASCII)

Payload = dict[str, Any]


class Refusal(Exception):
    """A request Alipay refuses; carries the answer object (code, msg, sub_code, sub_msg)."""

    def __init__(self, payload: Payload) -> None:
        super().__init__(payload.get("sub_code", payload["code"]))
        self.payload = payload


@csrf_exempt
@require_http_methods(["GET", "POST"])
def gateway(request: HttpRequest) -> HttpResponse:
    """One URL for every method, as at Alipay; common parameters may come in the query string."""
    secrets = keys_for(Protocol.ALIPAY)
    params = {**request.GET.dict(), **request.POST.dict()}
    method = params.get("method", "")
    if method in PAY_METHODS:
        return _pay_page(request, params, secrets)
    known = method in API or method == BILL_URL_QUERY
    node = f"{method.replace('.', '_')}_response" if known else "error_response"
    try:
        request_check(params, secrets)
        if not known:
            raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名"))
        biz = biz_content(params)
        payload = _bill_url_query(request, biz, secrets) if method == BILL_URL_QUERY else API[method](biz)
    except Refusal as refusal:
        payload = refusal.payload
    return HttpResponse(answer_text(secrets, node, payload), content_type=ANSWER_TYPE)


@csrf_exempt
@require_POST
def app_pay(request: HttpRequest) -> HttpResponse:
    """What the Alipay app does with our order string: checks it, opens the trade, and tells
    the app the outcome (``resultStatus``, and on success Alipay's signed answer)."""
    secrets = keys_for(Protocol.ALIPAY)
    try:
        params = _order_string_parse(request.body)
        request_check(params, secrets)
        if params["method"] != "alipay.trade.app.pay":
            raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名"))
        payment = _payment_open(params, PaymentMethod.ALIPAY_APP, "QUICK_MSECURITY_PAY")
    except Refusal as refusal:
        return JsonResponse({"resultStatus": APP_FAILED, "memo": refusal.payload.get("sub_msg", ""), "result": ""})
    if payment.state == SandboxPayment.State.PAID:
        answer = {
            "code": "10000",
            "msg": "Success",
            "app_id": secrets["app_id"],
            "auth_app_id": secrets["app_id"],
            "charset": "utf-8",
            "timestamp": signing.time_format(timezone.now()),
            "out_trade_no": payment.order_no,
            "total_amount": format_amount(payment.amount),
            "trade_no": payment.transaction_id,
            "seller_id": secrets["seller_id"],
        }
        result = answer_text(secrets, "alipay_trade_app_pay_response", answer)
        return JsonResponse({"resultStatus": APP_PAID, "memo": "", "result": result})
    if payment.scenario == PaymentScenario.NEVER_PAY:
        return JsonResponse({"resultStatus": APP_CANCELLED, "memo": "用户中途取消", "result": ""})
    return JsonResponse({"resultStatus": APP_PROCESSING, "memo": "正在处理中", "result": ""})


@require_GET
def bill_file(request: HttpRequest) -> HttpResponseBase:
    """Alipay's bill file server: the zip behind a ``bill_download_url``, to whoever holds the
    link (it is the credential, short-lived, and unsigned as at Alipay)."""
    bill = bill_stored_open(request.GET.get("token", ""))
    if bill is None:
        raise Http404("No such bill, or the link expired.")
    name = request.GET.get("downloadFileName", "")
    return FileResponse(bill, as_attachment=True, filename=name if _BILL_FILE_NAME.match(name) else "bill.csv.zip")


def trade_fields(payment: SandboxPayment) -> Payload:
    """The trade as alipay.trade.query shows it (and the notify carries most of it)."""
    paid = payment.state == SandboxPayment.State.PAID
    fields: Payload = {
        "trade_no": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "trade_status": TRADE_STATUS[SandboxPayment.State(payment.state)],
        "total_amount": format_amount(payment.amount),
        "buyer_pay_amount": format_amount(payment.amount) if paid else "0.00",
        "receipt_amount": format_amount(payment.amount) if paid else "0.00",
        "point_amount": "0.00",
        "invoice_amount": format_amount(payment.amount) if paid else "0.00",
    }
    if paid:
        fields["buyer_logon_id"] = payment.payer_masked
        fields["send_pay_date"] = time_text(payment.paid_at)
    return fields


def _pay_page(request: HttpRequest, params: dict[str, str], secrets: Mapping[str, str]) -> HttpResponse:
    """The payer's browser with a signed page / wap URL: open the trade, show the cashier."""
    method, product_code = PAY_METHODS[params["method"]]
    try:
        request_check(params, secrets)
        if method == PaymentMethod.ALIPAY_APP:
            raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-method", "APP 支付请由支付宝客户端发起"))
        payment = _payment_open(params, method, product_code)
    except Refusal as refusal:
        payload = refusal.payload
        text = f"错误代码 {payload.get('sub_code', payload['code'])}\n{payload.get('sub_msg', payload['msg'])}\n"
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    return redirect(cashier_url(request, payment))


def request_check(params: Mapping[str, str], secrets: Mapping[str, str]) -> None:
    """The gateway's checks of the common parameters, the merchant's signature first among the
    ones that need a key; raises ``Refusal`` with Alipay's code."""
    for name, sub_code in MISSING.items():
        if not params.get(name):
            raise Refusal(_error("40001", "Missing Required Arguments", sub_code))
    if params["app_id"] != secrets["app_id"]:
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数"))
    if params["sign_type"] != signing.SIGN_TYPE:
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-signature-type", "无效的签名类型参数"))
    content = signing.request_content(params)
    if not signing.signature_valid(signing.public_key_load(secrets["app_public_key"]), content, params["sign"]):
        message = f"验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{content}"
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-signature", message))
    if params["charset"].lower() != "utf-8":
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-charset", "字符集错误"))
    if params.get("format", "JSON").upper() != "JSON":
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-format", "参数格式错误"))
    if params["version"] != "1.0":
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-version", "版本号错误"))
    try:
        signing.time_parse(params["timestamp"])
    except ValueError as exc:
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-timestamp", "非法的时间戳参数")) from exc


def _payment_open(params: Mapping[str, str], method: PaymentMethod, product_code: str) -> SandboxPayment:
    """Record the trade the signed request asks for (the first request decides; a later one
    for another amount is refused as tampered). A request opened after its time_expire is
    refused and records nothing: like Alipay, the sandbox lets nobody pay an expired trade, so
    closing one never opened is safe once it expired (the sandbox keeps no time_expire, so the
    check is here, where the payer arrives)."""
    biz = biz_content(params)
    order_no = _out_trade_no(biz)
    amount = _amount(biz.get("total_amount"), "total_amount")
    if amount > MAX_TOTAL_AMOUNT:
        raise Refusal(_invalid("total_amount 超出范围 [0.01, 100000000]"))
    subject = biz.get("subject")
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX:
        raise Refusal(_invalid("subject 必填且不超过 256 个字符"))
    if biz.get("product_code") != product_code:
        raise Refusal(_invalid(f"product_code 应为 {product_code}"))
    expires = biz.get("time_expire")
    if expires is not None and not _time_valid(expires):
        raise Refusal(_invalid("time_expire 格式应为 yyyy-MM-dd HH:mm:ss"))
    if expires is not None and signing.time_parse(expires) <= timezone.now():
        raise Refusal(_business(*EXPIRED))
    notify_url = params.get("notify_url", "")
    if len(notify_url) > NOTIFY_URL_MAX:
        raise Refusal(_invalid("notify_url 过长"))
    receipt = payment_engine.payment_receive(
        protocol=Protocol.ALIPAY,
        order_no=order_no,
        amount=amount,
        subject=subject,
        method=method.value,
        notify_url=notify_url,
    )
    payment = receipt.payment
    if receipt.replayed and payment.amount != amount:
        raise Refusal(_business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"))
    if payment.state == SandboxPayment.State.CLOSED:
        raise Refusal(_business("ACQ.TRADE_HAS_CLOSE", "交易已关闭"))
    return payment


def _trade_query(biz: Payload) -> Payload:
    payment = payment_engine.payment_find(protocol=Protocol.ALIPAY, order_no=_out_trade_no(biz))
    if payment is None:
        raise Refusal(_business("ACQ.TRADE_NOT_EXIST", "交易不存在"))
    return {**_success(), **trade_fields(payment)}


def _trade_close(biz: Payload) -> Payload:
    payment = payment_engine.payment_close(protocol=Protocol.ALIPAY, order_no=_out_trade_no(biz))
    if payment is None:
        raise Refusal(_business("ACQ.TRADE_NOT_EXIST", "交易不存在"))
    if payment.state == SandboxPayment.State.PAID:
        raise Refusal(_business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"))
    return {**_success(), "trade_no": payment.transaction_id, "out_trade_no": payment.order_no}


def _trade_refund(biz: Payload) -> Payload:
    """Synchronous, as at Alipay: the answer says whether money moved (fund_change); the same
    out_request_no again moves none and answers N."""
    order_no = _out_trade_no(biz)
    amount = _amount(biz.get("refund_amount"), "refund_amount")
    refund_no = biz.get("out_request_no") or order_no  # Alipay's default: a full refund's number.
    if not isinstance(refund_no, str) or not _OUT_TRADE_NO.match(refund_no):
        raise Refusal(_invalid("out_request_no 无效"))
    try:
        refund, replayed = payment_engine.refund_receive(
            protocol=Protocol.ALIPAY, order_no=order_no, refund_no=refund_no, amount=amount
        )
    except payment_engine.RefundRefused as refused:
        sub_code, sub_msg = REFUSALS[refused.reason]
        raise Refusal(_business(sub_code, sub_msg, out_trade_no=order_no, refund_fee="0.00")) from refused
    if refund.scenario == PaymentScenario.REFUND_FAIL:
        payment_engine.refund_settle(refund_id=refund.pk, state=SandboxRefund.State.FAILED)
        raise Refusal(_business(*REFUND_FAILURE, out_trade_no=order_no, refund_fee="0.00"))
    payment = refund.payment
    moved = refund.state == SandboxRefund.State.SUCCESS and not replayed
    refunded = payment.refunds.filter(state=SandboxRefund.State.SUCCESS).aggregate(total=Sum("amount"))["total"]
    answer = {
        **_success(),
        "trade_no": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "buyer_logon_id": payment.payer_masked,
        "fund_change": "Y" if moved else "N",
        "refund_fee": format_amount(refunded or ZERO),
    }
    if refund.finished_at is not None:
        answer["gmt_refund_pay"] = time_text(refund.finished_at)
    return answer


def _refund_query(biz: Payload) -> Payload:
    payment = payment_engine.payment_find(protocol=Protocol.ALIPAY, order_no=_out_trade_no(biz))
    if payment is None:
        raise Refusal(_business("TRADE_NOT_EXIST", "查询退款的交易不存在"))
    refund_no = biz.get("out_request_no")
    if not isinstance(refund_no, str) or not refund_no:
        raise Refusal(_invalid("out_request_no 必填"))
    refund = payment_engine.refund_find(protocol=Protocol.ALIPAY, refund_no=refund_no)
    if refund is None or refund.payment_id != payment.pk or refund.state == SandboxRefund.State.FAILED:
        return _success()  # Alipay lists nothing for a refund it never made.
    answer = {
        **_success(),
        "trade_no": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "out_request_no": refund.refund_no,
        "total_amount": format_amount(payment.amount),
        "refund_amount": format_amount(refund.amount),
    }
    if refund.state == SandboxRefund.State.SUCCESS and refund.finished_at is not None:
        answer["refund_status"] = "REFUND_SUCCESS"
        answer["gmt_refund_pay"] = time_text(refund.finished_at)
    return answer


def _bill_url_query(request: HttpRequest, biz: Payload, secrets: Mapping[str, str]) -> Payload:
    """The link to the day's trade bill (``trade``) or account bill (``signcustomer``), published
    now, played rules and all; 40004 ``isp.bill_not_exist`` while it is not out."""
    bill_type = biz.get("bill_type")
    if bill_type not in BILL_TYPES:
        raise Refusal(_invalid("bill_type 仅支持 trade、signcustomer"))
    kind, biz_type, file_name = BILL_TYPES[bill_type]
    text = biz.get("bill_date")
    try:
        day = date.fromisoformat(text) if isinstance(text, str) and _BILL_DAY.match(text) else None
    except ValueError:
        day = None
    if day is None:
        raise Refusal(_invalid("bill_date 格式应为 yyyy-MM-dd（沙箱只提供日账单）"))
    try:
        stored = bill_store(protocol=Protocol.ALIPAY, kind=kind, day=day, compress=False)
    except BillNotPublished as exc:
        raise Refusal(_business("isp.bill_not_exist", "账单不存在")) from exc
    query = {
        "bizType": biz_type,
        "bizDates": f"{day:%Y%m%d}",
        "downloadFileName": file_name(secrets["seller_id"], day),
        "token": stored.token,
    }
    link = request.build_absolute_uri(f"{reverse(BILL_FILE_NAME)}?{urlencode(query)}")
    return {**_success(), "bill_download_url": link}


API: dict[str, Callable[[Payload], Payload]] = {
    "alipay.trade.query": _trade_query,
    "alipay.trade.close": _trade_close,
    "alipay.trade.refund": _trade_refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
}


def biz_content(params: Mapping[str, str]) -> Payload:
    try:
        biz = json_parse(params.get("biz_content") or "", parse_float=Decimal)
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise Refusal(_invalid("biz_content 不是 JSON 对象"))
    return biz


def _out_trade_no(biz: Payload) -> str:
    order_no = biz.get("out_trade_no")
    if not isinstance(order_no, str) or not _OUT_TRADE_NO.match(order_no):
        raise Refusal(_invalid("out_trade_no 无效"))
    return order_no


def _amount(value: object, name: str) -> Decimal:
    """Alipay takes yuan with at most two places, as a string or a JSON number."""
    if not isinstance(value, str | int | Decimal) or isinstance(value, bool):
        raise Refusal(_invalid(f"{name} 无效"))
    try:
        return parse_amount(str(value))
    except AmountError as exc:
        raise Refusal(_invalid(f"{name} 无效")) from exc


def _order_string_parse(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:  # UnicodeDecodeError too.
        raise Refusal(_error("40002", "Invalid Arguments", "isv.invalid-parameter", "订单串无法解析")) from exc
    return dict(pairs)


def answer_text(secrets: Mapping[str, str], node: str, payload: Payload) -> str:
    return signing.answer_create(signing.private_key_load(secrets["alipay_private_key"]), node, payload)


def _success() -> Payload:
    return {"code": "10000", "msg": "Success"}


def _business(sub_code: str, sub_msg: str, **extra: str) -> Payload:
    return {**_error("40004", "Business Failed", sub_code, sub_msg), **extra}


def _invalid(sub_msg: str) -> Payload:
    return _business("ACQ.INVALID_PARAMETER", f"参数无效：{sub_msg}")


def _error(code: str, msg: str, sub_code: str, sub_msg: str = "") -> Payload:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg or msg}


def time_text(moment: datetime | None) -> str:
    return signing.time_format(moment or timezone.now())


def _time_valid(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        signing.time_parse(text)
    except ValueError:
        return False
    return True
