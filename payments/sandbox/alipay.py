"""Sandbox of Alipay (RSA2): its keys, its endpoints (``alipay_gateway``, transfers in
``alipay_transfer``), and the async ``trade_status_sync`` notify of a paid trade, signed with
Alipay's key.

Transfers report to Alipay's message service, not to a notify URL, and refunds answer
synchronously, so there are no payout or refund notifies.
"""

import secrets as token
import uuid
from decimal import Decimal
from urllib.parse import urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import path
from django.utils import timezone

from payments.channels.alipay import signing
from payments.sandbox.alipay_gateway import BILL_FILE_NAME, app_pay, bill_file, trade_fields
from payments.sandbox.alipay_transfer import gateway
from payments.sandbox.models import SandboxPayment, SandboxPayout, SandboxRefund
from wallet.money import format_amount

NOTIFY_TYPE = "trade_status_sync"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

urlpatterns = [
    path("gateway.do", gateway, name="sandbox-alipay-gateway"),
    path("app_pay", app_pay, name="sandbox-alipay-app-pay"),
    path("downloadBillFile.resource", bill_file, name=BILL_FILE_NAME),
]


def keys_generate() -> dict[str, str]:
    """Both sides: the app's key pair (its private half signs our requests), Alipay's key pair
    (its public half verifies the answers and notifies), and the app and seller ids."""
    app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "app_id": f"9021{token.randbelow(10**12):012d}",
        "seller_id": f"2088{token.randbelow(10**12):012d}",
        "app_private_key": _private_pem(app),
        "app_public_key": _public_pem(app),
        "alipay_private_key": _private_pem(alipay),
        "alipay_public_key": _public_pem(alipay),
    }


def notify_acknowledged(status: int, body: bytes) -> bool:
    """Alipay stops only on HTTP 200 and the body ``success``, exactly."""
    return status == 200 and body == b"success"


def notify_build(payout: SandboxPayout, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """Alipay's transfers have no notify to a URL: the transfer's answer and the query tell."""
    return None


def payment_notify_build(
    payment: SandboxPayment, secrets: dict, *, amount: Decimal, forged: bool
) -> tuple[dict[str, str], bytes]:
    """The TRADE_SUCCESS notify of a paid trade claiming ``amount``, form-encoded; when
    ``forged`` its signature covers other content, so it does not verify."""
    trade = trade_fields(payment)
    claimed = format_amount(amount)
    params = {
        "notify_time": signing.time_format(timezone.now()),
        "notify_type": NOTIFY_TYPE,
        "notify_id": f"{uuid.uuid4().hex}{token.randbelow(10**4):04d}",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": signing.SIGN_TYPE,
        "app_id": secrets["app_id"],
        "auth_app_id": secrets["app_id"],
        "seller_id": secrets["seller_id"],
        "trade_no": payment.transaction_id,
        "out_trade_no": payment.order_no,
        "buyer_logon_id": trade.get("buyer_logon_id", ""),
        "trade_status": "TRADE_SUCCESS",
        "total_amount": claimed,
        "receipt_amount": claimed,
        "invoice_amount": claimed,
        "buyer_pay_amount": claimed,
        "point_amount": "0.00",
        "fund_bill_list": f'[{{"amount":"{claimed}","fundChannel":"ALIPAYACCOUNT"}}]',
        "subject": payment.subject,
        "gmt_create": signing.time_format(payment.created_at),
        "gmt_payment": signing.time_format(payment.paid_at or timezone.now()),
    }
    content = signing.notify_content(params)
    key = signing.private_key_load(secrets["alipay_private_key"])
    params["sign"] = signing.signature_create(key, f"{content}&forged=1" if forged else content)
    return {"Content-Type": FORM_TYPE}, urlencode(params).encode()


def refund_notify_build(refund: SandboxRefund, secrets: dict) -> tuple[dict[str, str], bytes] | None:
    """Alipay refunds answer synchronously; this flow has no refund notify."""
    return None


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
