"""WeChat Pay v3 direct-merchant payments (JSAPI, APP, H5, Native) and refunds: request bodies,
the parameters the client SDK needs, and the reading of answers and notify resources.

Readers raise ``ValueError``, ``KeyError`` or ``TypeError`` on anything malformed; the adapter
turns that into ``UnknownOutcome`` (an answer) or ``NotifyRejected`` (a notify).
"""

import json
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from payments.channels.base import (
    PaymentMethod,
    PaymentRequest,
    PaymentStart,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundState,
    RefundStatus,
)
from payments.channels.wechat_trade import TRADE_STATES, fen
from payments.channels.wechat_v3 import signing
from payments.channels.wechat_v3.credentials import WechatV3Credentials
from wallet.money import CENT

PREPAY_PATHS = {
    PaymentMethod.WECHAT_JSAPI: "/v3/pay/transactions/jsapi",
    PaymentMethod.WECHAT_APP: "/v3/pay/transactions/app",
    PaymentMethod.WECHAT_H5: "/v3/pay/transactions/h5",
    PaymentMethod.WECHAT_NATIVE: "/v3/pay/transactions/native",
}
TRANSACTION_PATH = "/v3/pay/transactions/out-trade-no"
REFUNDS_PATH = "/v3/refund/domestic/refunds"
PAYMENT_EVENT = "TRANSACTION.SUCCESS"
REFUND_EVENTS = {"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"}
REFUND_STATES = {
    "SUCCESS": RefundState.SUCCESS,
    "PROCESSING": RefundState.PROCESSING,
    "CLOSED": RefundState.FAILED,
    # The payer's account is abnormal: the merchant completes the refund by hand, then it succeeds.
    "ABNORMAL": RefundState.PROCESSING,
}
# Refund states whose code is worth carrying: the failures and the refund waiting for the merchant.
REFUND_STATES_WITH_CODE = {"CLOSED", "ABNORMAL"}
# WeChat's limits: description string(127), refund reason string(80).
DESCRIPTION_MAX_LENGTH = 127
REASON_MAX_LENGTH = 80
CHINA = ZoneInfo("Asia/Shanghai")


def prepay_path(method: PaymentMethod) -> str:
    if method not in PREPAY_PATHS:
        raise ValueError(f"WeChat Pay v3 does not serve {method}")
    return PREPAY_PATHS[method]


def prepay_body(credentials: WechatV3Credentials, request: PaymentRequest) -> bytes:
    """The prepay order; a request the channel could only refuse (no openid for JSAPI, no
    client IP for H5) is a ``ValueError`` here and never leaves."""
    order: dict[str, Any] = {
        "appid": credentials.appid,
        "mchid": credentials.mchid,
        "description": request.subject[:DESCRIPTION_MAX_LENGTH],
        "out_trade_no": request.order_no,
        "time_expire": rfc3339(request.expires_at),
        "notify_url": request.notify_url,
        "amount": {"total": fen(request.amount, request.currency), "currency": request.currency},
    }
    if request.method == PaymentMethod.WECHAT_JSAPI:
        if not request.payer_id:
            raise ValueError("a JSAPI payment needs the payer's openid")
        order["payer"] = {"openid": request.payer_id}
    if request.method == PaymentMethod.WECHAT_H5:
        if not request.client_ip:
            raise ValueError("an H5 payment needs the payer's client IP")
        order["scene_info"] = {"payer_client_ip": request.client_ip, "h5_info": {"type": "Wap"}}
    elif request.client_ip:
        order["scene_info"] = {"payer_client_ip": request.client_ip}
    return json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()


def payment_start(credentials: WechatV3Credentials, request: PaymentRequest, data: Mapping[str, Any]) -> PaymentStart:
    """What the client needs, from the prepay answer."""
    if request.method == PaymentMethod.WECHAT_NATIVE:
        return PaymentStart(code_url=_required(data, "code_url"), raw=data)
    if request.method == PaymentMethod.WECHAT_H5:
        return PaymentStart(pay_url=_h5_pay_url(_required(data, "h5_url"), request.return_url), raw=data)
    prepay_id = _required(data, "prepay_id")
    return PaymentStart(prepay_id=prepay_id, app_params=client_params(credentials, request.method, prepay_id), raw=data)


def client_params(credentials: WechatV3Credentials, method: PaymentMethod, prepay_id: str) -> dict[str, str]:
    """The parameters the WeChat SDK takes, signed with the merchant key as WeChat documents:
    JSAPI (``wx.requestPayment``) over appId, timeStamp, nonceStr, package; APP (``PayReq``)
    over appid, timestamp, noncestr, prepayid; each line ending in ``\\n``."""
    timestamp, nonce = str(int(time.time())), signing.nonce_new()
    if method == PaymentMethod.WECHAT_JSAPI:
        package = f"prepay_id={prepay_id}"
        message = f"{credentials.appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
        return {
            "appId": credentials.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": signing.signature_create(credentials.private_key, message),
        }
    message = f"{credentials.appid}\n{timestamp}\n{nonce}\n{prepay_id}\n".encode()
    return {
        "appid": credentials.appid,
        "partnerid": credentials.mchid,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nonce,
        "timestamp": timestamp,
        "sign": signing.signature_create(credentials.private_key, message),
    }


def payment_status(data: Mapping[str, Any]) -> PaymentStatus:
    """A transaction, from a query answer or a TRANSACTION.SUCCESS resource. A state WeChat may
    add later counts as still open: only SUCCESS and REFUND ever mean paid."""
    state = TRADE_STATES.get(_required(data, "trade_state"), PaymentState.NOT_PAID)
    amount = data.get("amount") or {}
    success_time = data.get("success_time")
    return PaymentStatus(
        order_no=_required(data, "out_trade_no"),
        state=state,
        amount=yuan(amount["total"]) if "total" in amount else None,
        currency=str(amount["currency"]) if amount.get("currency") else None,
        app_id=str(data.get("appid") or ""),
        merchant_id=str(data.get("mchid") or ""),
        transaction_id=str(data.get("transaction_id") or ""),
        paid_at=_aware(datetime.fromisoformat(success_time)) if success_time else None,
        code="" if state == PaymentState.PAID else str(data["trade_state"]),
        message=str(data.get("trade_state_desc") or ""),
        raw=data,
    )


def refund_body(request: RefundRequest) -> bytes:
    refund: dict[str, Any] = {
        "out_trade_no": request.order_no,
        "out_refund_no": request.refund_no,
        "amount": {
            "refund": fen(request.amount, request.currency),
            "total": fen(request.total_amount, request.currency),
            "currency": request.currency,
        },
    }
    if request.reason:
        refund["reason"] = request.reason[:REASON_MAX_LENGTH]
    if request.notify_url:
        refund["notify_url"] = request.notify_url
    return json.dumps(refund, ensure_ascii=False, separators=(",", ":")).encode()


def refund_status(data: Mapping[str, Any], *, status_field: str = "status") -> RefundStatus:
    """A refund, from an answer (``status``) or a refund notify resource (``refund_status``);
    a state WeChat may add later counts as still processing. ABNORMAL keeps its code, so the
    core can tell a refund waiting for the merchant's hand from one merely in progress."""
    status = _required(data, status_field)
    state = REFUND_STATES.get(status, RefundState.PROCESSING)
    return RefundStatus(
        refund_no=_required(data, "out_refund_no"),
        state=state,
        amount=yuan(data["amount"]["refund"]),
        order_no=str(data.get("out_trade_no") or ""),
        refund_id=str(data.get("refund_id") or ""),
        code=status if status in REFUND_STATES_WITH_CODE else "",
        raw=data,
    )


def yuan(fen: object) -> Decimal:
    if not isinstance(fen, int) or isinstance(fen, bool) or fen <= 0:
        raise ValueError("an amount is not a positive number of fen")
    return (Decimal(fen) / 100).quantize(CENT)


def rfc3339(moment: datetime) -> str:
    """China time, as WeChat writes it: 2025-01-01T12:00:00+08:00."""
    return _aware(moment).astimezone(CHINA).isoformat(timespec="seconds")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a time without its offset")
    return moment


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {name}")
    return value


def _h5_pay_url(h5_url: str, return_url: str) -> str:
    """WeChat sends the browser back to ``redirect_url`` once the payer is done."""
    if not return_url:
        return h5_url
    return f"{h5_url}{'&' if '?' in h5_url else '?'}redirect_url={quote(return_url, safe='')}"
