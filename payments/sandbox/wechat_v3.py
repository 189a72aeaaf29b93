"""Sandbox of WeChat Pay v3, at WeChat's own paths under ``/sandbox/wechat_v3/``: merchant
transfers here, payments and refunds in ``wechat_v3_pay`` (whose endpoints and notify builders
this protocol module serves, see protocols.py), bills in ``wechat_v3_bills``.

Like WeChat it checks the merchant's request signature (a bad one gets 401 SIGN_ERROR and pays
nothing), signs every answer with the platform key, and notifies final states as
AES-256-GCM-encrypted, platform-signed resources. It keeps only masked openids.
"""

import json
import re
import string
import uuid
from decimal import Decimal
from secrets import choice, randbelow, token_hex
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from payments.channels.wechat_v3 import signing
from payments.identifiers import openid_mask
from payments.sandbox import engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayout, Scenario
from payments.sandbox.wechat_v3_bills import urlpatterns as bill_urlpatterns
from payments.sandbox.wechat_v3_pay import merchant_signed, platform_headers, signed_answer, wechat_time

# The payment half of this protocol module (protocols.py), re-exported.
from payments.sandbox.wechat_v3_pay import payment_notify_build as payment_notify_build
from payments.sandbox.wechat_v3_pay import refund_notify_build as refund_notify_build
from payments.sandbox.wechat_v3_pay import urlpatterns as payment_urlpatterns
from wallet.json_input import json_parse
from wallet.money import CENT

BILLS = "v3/fund-app/mch-transfer/transfer-bills"
NOTIFY_EVENT = "MCHTRANSFER.BILL.FINISHED"
NOTIFY_ASSOCIATED_DATA = "mch_payment"
# WeChat transfers have no bounce: a payout the sandbox "returned" was paid, as far as WeChat says.
BILL_STATES = {
    SandboxPayout.State.PROCESSING: "PROCESSING",
    SandboxPayout.State.SUCCESS: "SUCCESS",
    SandboxPayout.State.FAILED: "FAIL",
    SandboxPayout.State.RETURNED: "SUCCESS",
}
# Only final states are notified (MCHTRANSFER.BILL.FINISHED); a return never is.
NOTIFIED_STATES = {SandboxPayout.State.SUCCESS: "SUCCESS", SandboxPayout.State.FAILED: "FAIL"}
_OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")
_API_V3_KEY_ALPHABET = string.ascii_letters + string.digits


def keys_generate() -> dict[str, str]:
    """Both sides: the merchant's key pair and serial, WeChat's platform key pair and serial, the
    API v3 key for notify resources, and the merchant and app ids."""
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "mchid": f"19{randbelow(10**8):08d}",
        "appid": f"wx{token_hex(8)}",
        "merchant_serial": token_hex(20).upper(),
        "merchant_private_key": _private_pem(merchant),
        "merchant_public_key": _public_pem(merchant),
        "platform_serial": f"PUB_KEY_ID_{randbelow(10**30):030d}",
        "platform_private_key": _private_pem(platform),
        "platform_public_key": _public_pem(platform),
        "api_v3_key": "".join(choice(_API_V3_KEY_ALPHABET) for _ in range(32)),
    }


def notify_acknowledged(status: int, body: bytes) -> bool:
    """WeChat v3 takes any 2xx (200 or 204, whatever the body) as received."""
    return 200 <= status < 300


def notify_build(payout: SandboxPayout, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """The MCHTRANSFER.BILL.FINISHED notify of the payout's current state; None unless final."""
    if payout.state not in NOTIFIED_STATES:
        return None
    bill = json.dumps(_bill_detail(payout, secrets), ensure_ascii=False).encode()
    resource = signing.resource_encrypt(
        key=secrets["api_v3_key"].encode(), plaintext=bill, associated_data=NOTIFY_ASSOCIATED_DATA
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": wechat_time(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": NOTIFY_EVENT,
        "summary": "商家转账单据终态通知",
        "resource": {"original_type": NOTIFY_ASSOCIATED_DATA, **resource},
    }
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return {"Content-Type": "application/json", **platform_headers(secrets, body)}, body


@csrf_exempt
@require_POST
def transfer_bill_create(request: HttpRequest) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, {"code": "SIGN_ERROR", "message": "签名错误"})
    try:
        bill = json_parse(request.body)
    except ValueError:
        bill = None
    problem = _bill_problem(bill, request, secrets)
    if problem is not None:
        return signed_answer(secrets, 400, {"code": problem[0], "message": problem[1]})
    decision = engine.payout_receive(
        protocol=Protocol.WECHAT_V3,
        order_no=bill["out_bill_no"],
        amount=(Decimal(bill["transfer_amount"]) / 100).quantize(CENT),
        payee_masked=openid_mask(bill["openid"]),
        notify_url=bill.get("notify_url", ""),
    )
    return _decision_answer(decision, secrets)


@csrf_exempt
@require_GET
def transfer_bill_query(request: HttpRequest, out_bill_no: str) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, {"code": "SIGN_ERROR", "message": "签名错误"})
    payout = engine.payout_find(protocol=Protocol.WECHAT_V3, order_no=out_bill_no)
    if payout is None:
        return signed_answer(secrets, 404, {"code": "NOT_FOUND", "message": "记录不存在"})
    return signed_answer(secrets, 200, _bill_detail(payout, secrets))


urlpatterns = [
    path(BILLS, transfer_bill_create),
    path(f"{BILLS}/out-bill-no/<str:out_bill_no>", transfer_bill_query),
    *payment_urlpatterns,
    *bill_urlpatterns,
]


def _decision_answer(decision: engine.Decision, secrets: dict) -> HttpResponse:
    payout = decision.payout
    if payout is None:
        if decision.scenario == Scenario.TIMEOUT:
            engine.pause(decision.delay)
            return signed_answer(secrets, 504, {"code": "SYSTEM_ERROR", "message": "网关超时"})
        return signed_answer(secrets, 500, {"code": "SYSTEM_ERROR", "message": "系统错误，请稍后重试"})
    if decision.scenario == Scenario.SLOW and not decision.replayed:
        engine.pause(decision.delay)
    response = signed_answer(secrets, 200, _bill_summary(payout))
    if decision.scenario == Scenario.DROP_RESPONSE and not decision.replayed:
        response.content = response.content[: len(response.content) // 2]  # Cut off mid-answer.
    return response


def _bill_problem(bill: Any, request: HttpRequest, secrets: dict) -> tuple[str, str] | None:
    """WeChat's refusal of a malformed bill, as (code, message); None when it is acceptable."""
    if not isinstance(bill, dict):
        return "PARAM_ERROR", "请求体不是 JSON 对象"
    if bill.get("appid") != secrets["appid"]:
        return "INVALID_REQUEST", "APPID不存在或与商户号不匹配"
    if not isinstance(bill.get("out_bill_no"), str) or not _OUT_BILL_NO.match(bill["out_bill_no"]):
        return "PARAM_ERROR", "out_bill_no 只能由 5 到 32 位数字和字母组成"
    if not isinstance(bill.get("openid"), str) or not 1 <= len(bill["openid"]) <= 128:
        return "PARAM_ERROR", "openid 无效"
    amount = bill.get("transfer_amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "PARAM_ERROR", "transfer_amount 必须是正整数（分）"
    if not isinstance(bill.get("transfer_scene_id"), str) or not bill["transfer_scene_id"]:
        return "PARAM_ERROR", "transfer_scene_id 必填"
    remark = bill.get("transfer_remark")
    if not isinstance(remark, str) or not 1 <= len(remark) <= 32:
        return "PARAM_ERROR", "transfer_remark 必填且不超过 32 个字符"
    if not isinstance(bill.get("transfer_scene_report_infos"), list) or not bill["transfer_scene_report_infos"]:
        return "PARAM_ERROR", "transfer_scene_report_infos 必填"
    if not isinstance(bill.get("notify_url", ""), str):
        return "PARAM_ERROR", "notify_url 无效"
    if "user_name" in bill and not _user_name_readable(bill["user_name"], request, secrets):
        return "PARAM_ERROR", "user_name 无法用平台证书解密"
    return None


def _user_name_readable(user_name: Any, request: HttpRequest, secrets: dict) -> bool:
    """An encrypted field must name the platform serial it was encrypted for, and decrypt."""
    if not signing.constant_time_equal(request.headers.get("Wechatpay-Serial", ""), secrets["platform_serial"]):
        return False
    try:
        signing.sensitive_decrypt(signing.private_key_load(secrets["platform_private_key"]), str(user_name))
    except ValueError:
        return False
    return True


def _bill_summary(payout: SandboxPayout) -> dict[str, Any]:
    """What the transfer-bills POST answers."""
    summary = {
        "out_bill_no": payout.order_no,
        "transfer_bill_no": payout.channel_reference,
        "create_time": wechat_time(payout.created_at),
        "state": BILL_STATES[SandboxPayout.State(payout.state)],
    }
    if payout.state == SandboxPayout.State.FAILED:
        summary["fail_reason"] = payout.failure_code
    return summary


def _bill_detail(payout: SandboxPayout, secrets: dict) -> dict[str, Any]:
    """What a query answers and a notify carries: the summary plus the bill's particulars."""
    return {
        **_bill_summary(payout),
        "mch_id": secrets["mchid"],
        "appid": secrets["appid"],
        "transfer_amount": int((payout.amount * 100).to_integral_value()),
        "openid": payout.payee_masked,
        "update_time": wechat_time(payout.finished_at or payout.created_at),
    }


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
