"""What the bill tests share: the books of a day made at the times they say, and each
protocol's request signed the way our adapters sign it, with the merchant keys the sandbox made."""

import json
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import time_machine
from django.test import Client

from payments.channels.alipay import signing as alipay_signing
from payments.channels.bank import signing as bank_signing
from payments.channels.wechat_v2.signing import xml_signed
from payments.channels.wechat_v3 import signing as v3_signing
from payments.sandbox import engine, payment_engine
from payments.sandbox.bill_rules import BILL_KINDS
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, Protocol, SandboxPayment, SandboxPayout, SandboxRefund, Scenario

D = Decimal
CHINA = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 6)
# When the tests ask for DAY's bills: the next morning, China time.
NEXT_MORNING = datetime(2026, 12, 7, 9, 12, 34, tzinfo=CHINA)
V3, V2, ALIPAY, BANK = Protocol.WECHAT_V3, Protocol.WECHAT_V2, Protocol.ALIPAY, Protocol.BANK
METHODS = {V3: "NATIVE", V2: "NATIVE", ALIPAY: "alipay_page"}
BILLS = [(protocol, kind) for protocol, kinds in BILL_KINDS.items() for kind in kinds]


def at(text: str) -> datetime:
    """``"2026-12-06 10:00:05"``, China time."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def paid(protocol: str, order_no: str, amount: str, when: str, *, subject: str = "Recharge") -> SandboxPayment:
    """A payment the payer paid at ``when``."""
    with time_machine.travel(at(when), tick=False):
        return payment_engine.payment_receive(
            protocol=protocol,
            order_no=order_no,
            amount=D(amount),
            subject=subject,
            method=METHODS[Protocol(protocol)],
        ).payment


def refunded(payment: SandboxPayment, refund_no: str, amount: str, when: str) -> SandboxRefund:
    with time_machine.travel(at(when), tick=False):
        refund, _ = payment_engine.refund_receive(
            protocol=payment.protocol, order_no=payment.order_no, refund_no=refund_no, amount=D(amount)
        )
    return refund


def paid_out(
    protocol: str, order_no: str, amount: str, when: str, *, scenario: str = Scenario.SUCCEED
) -> SandboxPayout:
    """A payout finished at ``when``: paid, failed (``FAIL``) or paid and returned (``RETURN``)."""
    with time_machine.travel(at(when), tick=False):
        engine.rule_add(protocol=protocol, scenario=scenario, order_no=order_no, failure_code="CARD_INVALID")
        payout = engine.payout_receive(
            protocol=protocol, order_no=order_no, amount=D(amount), payee_masked="**** 1234"
        ).payout
        assert payout is not None
        if scenario == Scenario.RETURN:
            payout = engine.payout_settle(payout_id=payout.pk, state=SandboxPayout.State.RETURNED)
    return payout


def v3_get(path_and_query: str, *, private_key_pem: str | None = None):
    """A GET to the v3 sandbox signed with the merchant key (or ``private_key_pem``)."""
    secrets = keys_for(V3)
    full_path = f"/sandbox/wechat_v3/{path_and_query.removeprefix('/')}"
    authorization = v3_signing.authorization_create(
        mchid=secrets["mchid"],
        serial=secrets["merchant_serial"],
        private_key=v3_signing.private_key_load(private_key_pem or secrets["merchant_private_key"]),
        method="GET",
        path=full_path,
        body=b"",
    )
    return Client().get(full_path, HTTP_AUTHORIZATION=authorization)


def v2_post(path: str, *, sign_type: str = "HMAC-SHA256", api_key: str | None = None, **fields: str):
    """A v2 XML request with the merchant's ids, signed with its API key (or ``api_key``)."""
    keys = keys_for(V2)
    request = {"appid": keys["appid"], "mch_id": keys["mch_id"], "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"}
    request |= {"sign_type": sign_type, **fields}
    body = xml_signed(request, api_key=api_key or keys["api_key"], sign_type=sign_type)
    return Client().post(f"/sandbox/wechat_v2/{path}", body, content_type="text/xml")


def alipay_call(method: str, biz: dict, *, private_key_pem: str | None = None):
    """A gateway call signed with the app's RSA2 key (or ``private_key_pem``)."""
    keys = keys_for(ALIPAY)
    params = {
        "app_id": keys["app_id"],
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": alipay_signing.time_format(datetime.now(tz=CHINA)),
        "version": "1.0",
        "biz_content": json.dumps(biz),
    }
    key = alipay_signing.private_key_load(private_key_pem or keys["app_private_key"])
    params["sign"] = alipay_signing.signature_create(key, alipay_signing.request_content(params))
    return Client().post(
        "/sandbox/alipay/gateway.do", urlencode(params), content_type="application/x-www-form-urlencoded"
    )


def bank_get(path: str, *, private_key_pem: str | None = None):
    """A GET to the gateway with the signed ``merchant_id``, ``timestamp`` and ``nonce``."""
    keys = keys_for(BANK)
    fields = {"merchant_id": keys["merchant_id"], "timestamp": str(int(time.time())), "nonce": "4f1c2a"}
    key = bank_signing.private_key_load(private_key_pem or keys["merchant_private_key"])
    return Client().get(f"/sandbox/bank/{path}?{urlencode(bank_signing.signed(fields, key))}")


def streamed(response: Any) -> bytes:
    """The body of a file the sandbox streamed."""
    return b"".join(response.streaming_content)


def trade_day(protocol: str) -> None:
    """DAY's trade: a payment of 100.00 (fee 0.60) and a refund of 10.00 of it (fee -0.06); a
    payment the second before midnight stays out of DAY's bill."""
    payment = paid(protocol, "P20261206000001", "100.00", "2026-12-06 10:00:05")
    refunded(payment, "R20261206000001", "10.00", "2026-12-06 11:00:00")
    paid(protocol, "P20261205000009", "7.00", "2026-12-05 23:59:59")


def payout_day(protocol: str) -> None:
    """DAY's payouts: 12.30 paid, 5.00 paid and returned, 3.00 failed; one the day after."""
    paid_out(protocol, "W20261206000001", "12.30", "2026-12-06 10:00:07")
    paid_out(protocol, "W20261206000002", "5.00", "2026-12-06 12:00:00", scenario=Scenario.RETURN)
    paid_out(protocol, "W20261206000003", "3.00", "2026-12-06 13:00:00", scenario=Scenario.FAIL)
    paid_out(protocol, "W20261207000001", "1.00", "2026-12-07 00:00:00")


def books_of_the_day(protocol: str, kind: str) -> None:
    """What DAY's ``kind`` bill of ``protocol`` is made from."""
    if kind == BillKind.TRADE:
        trade_day(protocol)
    else:
        payout_day(protocol)


def v3_platform_verified(response: Any) -> dict:
    """The JSON answer, once its platform signature verified."""
    secrets = keys_for(V3)
    v3_signing.wechatpay_headers_verify(
        headers=response.headers,
        body=response.content,
        public_key=v3_signing.public_key_load(secrets["platform_public_key"]),
        serial=secrets["platform_serial"],
    )
    return json.loads(response.content)


def v3_download(url: str) -> bytes:
    """What a v3 download link serves, fetched with a signed GET; the answer itself is unsigned."""
    parts = urlsplit(url)
    response = v3_get(f"{parts.path.removeprefix('/sandbox/wechat_v3/')}?{parts.query}")
    assert response.status_code == 200
    assert "Wechatpay-Signature" not in response.headers
    return streamed(response)
