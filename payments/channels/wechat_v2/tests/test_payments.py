"""WeChat Pay v2 payments and refunds: signatures and the refund notify's encryption against
vectors computed here from the documented algorithms, the mapping of every answer and notify onto
base's outcomes, the adapter against the sandbox over real HTTP, and the sandbox's scenarios."""

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from payments.channels.base import (
    NotifyRejected,
    PaymentMethod,
    PaymentRefused,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundState,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.wechat_v2.signing import (
    DecryptionFailed,
    req_info_decrypt,
    req_info_encrypt,
    xml_decode,
    xml_encode,
)
from payments.channels.wechat_v2.tests import test_payouts as test_wechat_v2
from payments.channels.wechat_v2.tests.test_payouts import hmac_by_hand, md5_by_hand
from payments.sandbox import payment_engine, tasks
from payments.sandbox import wechat_v2 as sandbox_wechat_v2
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxPayment, SandboxRefund

PROTOCOL = "wechat_v2"
API_KEY = "192006250b4c09247ec02edce69f6a2d"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOTIFY_URL = "https://wallet.example/api/v1/notify/wechat_v2/"
RETURN_URL = "https://wallet.example/paid/?order=1"
EXPIRES_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # 2030-01-02 11:04:05 in China
live = pytest.mark.django_db(transaction=True)
# The v2 payout tests' fixtures: the sandbox's merchant, a spy on the wire, a channel answering anything.
sandbox_adapter = test_wechat_v2.sandbox_adapter
wire = test_wechat_v2.wire
answering = test_wechat_v2.answering


def payment_request(order_no: str, method: PaymentMethod = PaymentMethod.WECHAT_NATIVE, amount: str = "12.34"):
    return PaymentRequest(
        order_no=order_no,
        amount=Decimal(amount),
        currency="CNY",
        subject="钱包充值",
        method=method,
        notify_url=NOTIFY_URL,
        expires_at=EXPIRES_AT,
        client_ip="203.0.113.7",
        payer_id=OPENID if method == PaymentMethod.WECHAT_JSAPI else "",
        return_url=RETURN_URL,
    )


def refund_request(order_no: str, refund_no: str, amount: str = "2.34", total: str = "12.34", transaction_id=""):
    return RefundRequest(
        refund_no=refund_no,
        order_no=order_no,
        transaction_id=transaction_id,
        amount=Decimal(amount),
        total_amount=Decimal(total),
        currency="CNY",
        reason="商品退货",
        notify_url=NOTIFY_URL,
    )


def sign_by_hand(params: dict[str, str], *, key: str, sign_type: str) -> str:
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v) + f"&key={key}"
    return md5_by_hand(text) if sign_type == "MD5" else hmac_by_hand(text, key)


def aes_key_by_hand(api_key: str) -> bytes:
    return hashlib.md5(api_key.encode()).hexdigest().lower().encode()  # noqa: S324


def encrypt_by_hand(plaintext: bytes, api_key: str) -> str:
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(aes_key_by_hand(api_key)), modes.ECB()).encryptor()  # noqa: S305
    return base64.b64encode(encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()).decode()


def decrypt_by_hand(req_info: str, api_key: str) -> bytes:
    decryptor = Cipher(algorithms.AES(aes_key_by_hand(api_key)), modes.ECB()).decryptor()  # noqa: S305
    padded = decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()
    return padded[: -padded[-1]]


def signed(fields: dict[str, str], *, api_key: str = API_KEY, sign_type: str = "MD5") -> bytes:
    return xml_encode(fields | {"sign": sign_by_hand(fields, key=api_key, sign_type=sign_type)})


def ok(**fields: str) -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
    } | fields


def fail(err_code: str) -> dict[str, str]:
    return {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": err_code, "err_code_des": "说明"}


@dataclass
class Outbox:
    """The sandbox's notify tasks, recorded instead of queued (``scheduled``: every task queued by
    name); ``run`` runs the sandbox's here, and what they would POST to our notify URL lands in
    ``sent``."""

    scheduled: list = field(default_factory=list)
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    tasks: dict = field(default_factory=dict)

    def notifies(self) -> list:
        return [task for task in self.scheduled if task.name in self.tasks]

    def run(self) -> list[bytes]:
        due = self.notifies()
        for task in due:
            self.tasks[task.name](*task.args)
        self.scheduled[:] = [task for task in self.scheduled if task not in due]
        bodies = [body for _url, body in self.sent]
        self.sent.clear()
        return bodies


@pytest.fixture(autouse=True)
def outbox(monkeypatch, sent_tasks) -> Outbox:
    box = Outbox(
        scheduled=sent_tasks,
        tasks={
            payment_engine.PAYMENT_NOTIFY_TASK: tasks.sandbox_payment_notify,
            payment_engine.REFUND_NOTIFY_TASK: tasks.sandbox_refund_notify,
        },
    )

    def deliver(protocol: ModuleType, url: str, built: tuple[dict[str, str], bytes], reference: str) -> bool:
        box.sent.append((url, built[1]))
        return True

    monkeypatch.setattr(tasks, "_deliver", deliver)
    return box


def scenario(name: str, order_no: str, delay_seconds: float = 0) -> None:
    payment_engine.payment_rule_add(protocol=PROTOCOL, scenario=name, order_no=order_no, delay_seconds=delay_seconds)


def paid(adapter, order_no: str, amount: str = "12.34") -> PaymentStatus:
    """A payment the sandbox's payer paid at once (the default scenario), as the query tells it."""
    adapter.payment_create(payment_request(order_no, amount=amount))
    return adapter.payment_query(order_no)


# Signing and the refund notify's encryption


def test_req_info_decrypts_aes_256_ecb_keyed_with_the_lower_hex_md5_of_the_api_key():
    plaintext = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status>SUCCESS</refund_status></root>"

    assert req_info_decrypt(encrypt_by_hand(plaintext.encode(), API_KEY), api_key=API_KEY) == plaintext.encode()
    assert decrypt_by_hand(req_info_encrypt(plaintext.encode(), api_key=API_KEY), API_KEY) == plaintext.encode()


def test_req_info_encryption_matches_a_vector_of_one_block():
    # "0123456789abcdef" is one whole block, so PKCS7 adds a second block of sixteen 0x10 bytes.
    sealed = base64.b64decode(req_info_encrypt(b"0123456789abcdef", api_key=API_KEY))

    decryptor = Cipher(algorithms.AES(aes_key_by_hand(API_KEY)), modes.ECB()).decryptor()  # noqa: S305
    assert len(sealed) == 32
    assert decryptor.update(sealed) + decryptor.finalize() == b"0123456789abcdef" + b"\x10" * 16


@pytest.mark.parametrize(
    "req_info", ["not base64!", base64.b64encode(b"short").decode(), encrypt_by_hand(b"<root></root>", "k" * 32)]
)
def test_req_info_that_is_not_base64_of_whole_blocks_under_our_key_does_not_decrypt(req_info):
    with pytest.raises(DecryptionFailed):
        req_info_decrypt(req_info, api_key=API_KEY)


def test_the_decrypted_req_info_is_a_document_rooted_at_root():
    assert xml_decode(b"<root><a>1</a></root>", root="root") == {"a": "1"}
    assert xml_encode({"a": "1"}, root="root") == b"<root><a><![CDATA[1]]></a></root>"


# Mapping of the channel's answers (answers the sandbox does not produce on its own)


@pytest.mark.parametrize("err_code", ["NOAUTH", "ORDERCLOSED", "APPID_MCHID_NOT_MATCH", "LACK_PARAMS", "PARAM_ERROR"])
def test_a_signed_business_refusal_of_a_unified_order_refuses_the_payment(answering, err_code):
    with pytest.raises(PaymentRefused) as raised:
        answering(signed(fail(err_code))).payment_create(payment_request("P1"))

    assert raised.value.code == err_code


@pytest.mark.parametrize("err_code", ["SYSTEMERROR", "ORDERPAID", "OUT_TRADE_NO_USED", "INVALID_REQUEST", ""])
def test_a_unified_order_answer_that_may_hide_an_open_or_paid_order_is_unknown(answering, err_code):
    with pytest.raises(UnknownOutcome):
        answering(signed(fail(err_code))).payment_create(payment_request("P1"))


def test_a_frequency_limit_on_a_unified_order_is_retryable(answering):
    with pytest.raises(RetryableError):
        answering(signed(fail("FREQ_LIMIT"))).payment_create(payment_request("P1"))


def test_a_signed_unified_order_answer_wechat_did_not_read_is_refused_with_its_message(answering):
    body = signed({"return_code": "FAIL", "return_msg": "签名错误"})

    with pytest.raises(PaymentRefused) as raised:
        answering(body).payment_create(payment_request("P1"))

    assert raised.value.code == "SIGN_ERROR"


@pytest.mark.parametrize("tls", [False, True])
def test_an_unsigned_answer_of_a_payment_endpoint_is_unknown_even_on_mutual_tls(answering, tls):
    did_not_read = xml_encode({"return_code": "FAIL", "return_msg": "签名错误"})
    query = ok(out_trade_no="P1", trade_state="CLOSED", total_fee="1234")
    refund_query = ok(out_trade_no="P1", out_refund_no_0="R1", refund_fee_0="234", refund_status_0="REFUNDCLOSE")

    with pytest.raises(UnknownOutcome, match="unsigned"):
        answering(did_not_read, tls=tls).payment_create(payment_request("P1"))
    with pytest.raises(UnknownOutcome, match="unsigned"):
        answering(xml_encode(query), tls=tls).payment_query("P1")
    with pytest.raises(UnknownOutcome, match="unsigned"):
        answering(xml_encode(ok()), tls=tls).payment_close("P1", expires_at=EXPIRES_AT)
    with pytest.raises(UnknownOutcome, match="unsigned"):
        answering(did_not_read, tls=tls).refund_create(refund_request("P1", "R1"))
    with pytest.raises(UnknownOutcome, match="unsigned"):
        answering(xml_encode(refund_query), tls=tls).refund_query("R1", order_no="P1")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (xml_encode(ok(trade_type="NATIVE", prepay_id="wx1", code_url="weixin://x")), 200),  # unsigned
        (signed(ok(trade_type="NATIVE", prepay_id="wx1", code_url="weixin://x"), api_key="k" * 32), 200),
        (signed(ok(trade_type="NATIVE", prepay_id="wx1")), 200),  # no code_url
        (signed(ok(trade_type="APP", prepay_id="wx1", code_url="weixin://x")), 200),  # another trade type
        (signed(ok(trade_type="NATIVE", prepay_id="wx1", code_url="weixin://x")), 502),
    ],
)
def test_a_unified_order_answer_that_is_unsigned_forged_incomplete_or_5xx_is_unknown(answering, body, status):
    with pytest.raises(UnknownOutcome):
        answering(body, status=status).payment_create(payment_request("P1"))


@pytest.mark.parametrize(
    ("trade_state", "state"),
    [
        ("SUCCESS", PaymentState.PAID),
        ("REFUND", PaymentState.PAID),
        ("NOTPAY", PaymentState.NOT_PAID),
        ("USERPAYING", PaymentState.NOT_PAID),
        ("CLOSED", PaymentState.CLOSED),
        ("REVOKED", PaymentState.CLOSED),
        ("PAYERROR", PaymentState.NOT_PAID),  # one failed attempt: the order can still be paid or closed
    ],
)
def test_each_trade_state_maps_onto_a_payment_state(answering, trade_state, state):
    answer = ok(
        out_trade_no="P1", trade_state=trade_state, total_fee="1234", transaction_id="4200", time_end="20300102110405"
    )

    status = answering(signed(answer)).payment_query("P1")

    # WeChat leaves fee_type out for CNY: no currency is stated, none is invented.
    assert (status.state, status.code, status.amount, status.currency) == (state, trade_state, Decimal("12.34"), None)
    assert (status.app_id, status.merchant_id) == ("wxd930ea5d5a258f4f", "10000100")
    assert "sign" not in status.raw
    if state == PaymentState.PAID:
        assert status.paid_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_query_of_an_order_wechat_does_not_have_is_not_found(answering):
    assert answering(signed(fail("ORDERNOTEXIST"))).payment_query("P1").state == PaymentState.NOT_FOUND


@pytest.mark.parametrize(
    "answer",
    [
        fail("SYSTEMERROR"),
        ok(out_trade_no="P1", trade_state="ACCEPT", total_fee="1234"),
        ok(out_trade_no="P2", trade_state="SUCCESS", total_fee="1234", transaction_id="4200"),
        ok(out_trade_no="P1", trade_state="SUCCESS", transaction_id="4200"),  # paid, but how much?
        ok(out_trade_no="P1", trade_state="SUCCESS", total_fee="1234"),  # paid, but which transaction?
        {"return_code": "FAIL", "return_msg": "签名错误"},
    ],
)
def test_a_query_that_does_not_answer_about_the_order_is_unknown(answering, answer):
    with pytest.raises(UnknownOutcome):
        answering(signed(answer)).payment_query("P1")


@pytest.mark.parametrize("err_code", ["ORDERNOTEXIST", "ORDERCLOSED", ""])
def test_a_close_of_an_order_closed_before_or_never_there_is_closed(answering, err_code):
    answer = fail(err_code) | {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100"} if err_code else ok()

    status = answering(signed(answer)).payment_close("P1", expires_at=EXPIRES_AT)

    assert (status.state, status.code) == (PaymentState.CLOSED, err_code)


def test_a_close_wechat_could_not_do_is_unknown(answering):
    with pytest.raises(UnknownOutcome):
        answering(signed(fail("SYSTEMERROR"))).payment_close("P1", expires_at=EXPIRES_AT)


@pytest.mark.parametrize("err_code", ["NOTENOUGH", "TRADE_OVERDUE", "USER_ACCOUNT_ABNORMAL", "ORDERNOTEXIST", "ERROR"])
def test_a_signed_refund_refusal_is_a_failed_refund_with_its_code(answering, err_code):
    status = answering(signed(fail(err_code))).refund_create(refund_request("P1", "R1"))

    assert (status.state, status.code, status.message, status.amount) == (
        RefundState.FAILED,
        err_code,
        "说明",
        Decimal("2.34"),
    )


@pytest.mark.parametrize("err_code", ["SYSTEMERROR", "REFUND_FEE_MISMATCH", ""])
def test_a_refund_answer_that_may_hide_a_refund_under_that_number_is_unknown(answering, err_code):
    with pytest.raises(UnknownOutcome):
        answering(signed(fail(err_code))).refund_create(refund_request("P1", "R1"))


def test_a_refund_wechat_asks_to_send_again_is_retryable(answering):
    with pytest.raises(RetryableError):
        answering(signed(fail("BIZERR_NEED_RETRY"))).refund_create(refund_request("P1", "R1"))


def test_only_a_signed_refund_acceptance_counts_even_on_mutual_tls(answering):
    answer = ok(out_trade_no="P1", out_refund_no="R1", refund_id="50000", refund_fee="234")

    status = answering(signed(answer)).refund_create(refund_request("P1", "R1"))

    assert (status.state, status.refund_id, status.amount) == (RefundState.PROCESSING, "50000", Decimal("2.34"))
    with pytest.raises(UnknownOutcome):
        answering(xml_encode(answer), tls=True).refund_create(refund_request("P1", "R1"))
    with pytest.raises(UnknownOutcome):
        answering(xml_encode(answer)).refund_create(refund_request("P1", "R1"))
    with pytest.raises(UnknownOutcome):  # accepted for another amount
        answering(signed(answer | {"refund_fee": "999"})).refund_create(refund_request("P1", "R1"))


@pytest.mark.parametrize(
    ("refund_status", "state", "code"),
    [
        ("SUCCESS", RefundState.SUCCESS, ""),
        ("PROCESSING", RefundState.PROCESSING, ""),
        ("CHANGE", RefundState.PROCESSING, "CHANGE"),  # the merchant completes it by hand
        ("REFUNDCLOSE", RefundState.FAILED, "REFUNDCLOSE"),
    ],
)
def test_each_refund_status_maps_onto_a_refund_state(answering, refund_status, state, code):
    answer = ok(
        out_trade_no="P1",
        refund_count="2",
        out_refund_no_0="R0",
        refund_status_0="SUCCESS",
        out_refund_no_1="R1",
        refund_id_1="50001",
        refund_fee_1="234",
        refund_status_1=refund_status,
    )

    status = answering(signed(answer)).refund_query("R1", order_no="P1")

    assert (status.state, status.refund_id, status.amount, status.code) == (state, "50001", Decimal("2.34"), code)


@pytest.mark.parametrize(
    "answer",
    [
        fail("SYSTEMERROR"),
        ok(out_trade_no="P1", out_refund_no_0="R9", refund_status_0="SUCCESS"),
        ok(out_trade_no="P2", out_refund_no_0="R1", refund_status_0="SUCCESS"),
        ok(out_trade_no="P1", out_refund_no_0="R1", refund_status_0="LOST"),
    ],
)
def test_a_refund_query_that_does_not_answer_about_the_refund_is_unknown(answering, answer):
    with pytest.raises(UnknownOutcome):
        answering(signed(answer)).refund_query("R1", order_no="P1")


def test_a_refund_query_of_a_refund_wechat_does_not_have_is_not_found(answering):
    assert answering(signed(fail("REFUNDNOTEXIST"))).refund_query("R1", order_no="P1").state == RefundState.NOT_FOUND


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"method": PaymentMethod.ALIPAY_APP}, "does not serve"),
        ({"method": PaymentMethod.WECHAT_JSAPI}, "openid"),
        ({"method": PaymentMethod.WECHAT_H5, "client_ip": ""}, "IP"),
        ({"currency": "USD"}, "CNY"),
        ({"amount": Decimal("1.005")}, "decimal"),
        ({"expires_at": datetime(2030, 1, 2)}, "timezone"),  # noqa: DTZ001 - the naive one refused
    ],
)
def test_a_payment_wechat_cannot_take_is_refused_before_sending(answering, change, complaint):
    with pytest.raises(ValueError, match=complaint):
        answering(b"").payment_create(replace(payment_request("P1"), **change))


# Notifies built by hand


def pay_notify(**changes: str) -> dict[str, str]:
    fields = {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
        "openid": OPENID,
        "trade_type": "JSAPI",
        "bank_type": "CMC",
        "total_fee": "1234",
        "fee_type": "CNY",
        "cash_fee": "1234",
        "transaction_id": "1004400740201409030005092168",
        "out_trade_no": "P1",
        "time_end": "20300102110405",
    }
    return fields | changes


def test_a_pay_notify_signed_as_documented_is_paid_with_everything_the_core_compares(answering):
    status = answering(b"").parse_notify(headers={}, body=signed(pay_notify()))

    assert status == PaymentStatus(
        order_no="P1",
        state=PaymentState.PAID,
        amount=Decimal("12.34"),
        currency="CNY",
        app_id="wxd930ea5d5a258f4f",
        merchant_id="10000100",
        transaction_id="1004400740201409030005092168",
        paid_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        raw=pay_notify(),
    )


@pytest.mark.parametrize(
    "fields", [pay_notify(sign_type="HMAC-SHA256"), pay_notify()], ids=["declared", "sign-type-left-out"]
)
def test_a_pay_notify_is_verified_in_the_configured_sign_type(answering, fields):
    body = signed(fields, sign_type="HMAC-SHA256")

    assert answering(b"", sign_type="HMAC-SHA256").parse_notify(headers={}, body=body).state == PaymentState.PAID


@pytest.mark.parametrize(
    ("configured", "body"),
    [
        ("MD5", signed(pay_notify(sign_type="HMAC-SHA256"), sign_type="HMAC-SHA256")),  # declares another
        ("HMAC-SHA256", signed(pay_notify(sign_type="MD5"))),  # a weaker one
        ("HMAC-SHA256", signed(pay_notify())),  # MD5 signature, nothing declared
    ],
)
def test_a_pay_notify_in_another_sign_type_than_configured_is_rejected(answering, configured, body):
    with pytest.raises(NotifyRejected):
        answering(b"", sign_type=configured).parse_notify(headers={}, body=body)


@pytest.mark.parametrize(
    "body",
    [
        signed(pay_notify(), api_key="k" * 32),  # forged
        signed(pay_notify()).replace(b"<total_fee><![CDATA[1234]]>", b"<total_fee><![CDATA[1]]>"),  # tampered
        xml_encode(pay_notify()),  # unsigned
        signed(pay_notify(sign_type="HMAC-SHA256")),  # MD5 signature, HMAC declared
        signed(pay_notify(sign_type="SHA1")),
        signed(pay_notify(appid="wx0000000000000000")),  # another app of the same key
        signed(pay_notify(mch_id="10000999")),  # another merchant
        signed(pay_notify(out_trade_no="")),
        signed(pay_notify(total_fee="12.34")),
        signed(pay_notify(transaction_id="")),
        signed(pay_notify(return_code="FAIL")),
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
    ],
)
def test_a_pay_notify_that_is_not_genuine_ours_and_complete_is_rejected(answering, body):
    with pytest.raises(NotifyRejected):
        answering(b"").parse_notify(headers={}, body=body)


def test_a_failed_pay_notify_is_not_paid(answering):
    body = signed(pay_notify(result_code="FAIL", err_code="BANKERROR", err_code_des="银行错误", transaction_id=""))

    status = answering(b"").parse_notify(headers={}, body=body)

    assert (status.state, status.code, status.message) == (PaymentState.NOT_PAID, "BANKERROR", "银行错误")


def refund_notify(*, api_key: str = API_KEY, appid: str = "wxd930ea5d5a258f4f", **detail: str) -> bytes:
    decrypted = {
        "out_refund_no": "R1",
        "out_trade_no": "P1",
        "refund_id": "50000",
        "transaction_id": "4200",
        "refund_status": "SUCCESS",
        "refund_fee": "234",
        "settlement_refund_fee": "234",
        "total_fee": "1234",
    } | detail
    envelope = {
        "return_code": "SUCCESS",
        "appid": appid,
        "mch_id": "10000100",
        "nonce_str": "abc",
        "req_info": encrypt_by_hand(xml_encode(decrypted, root="root"), api_key),
    }
    return xml_encode(envelope)


@pytest.mark.parametrize(
    ("refund_status", "state", "code"),
    [
        ("SUCCESS", RefundState.SUCCESS, ""),
        ("CHANGE", RefundState.PROCESSING, "CHANGE"),  # the merchant completes it by hand
        ("REFUNDCLOSE", RefundState.FAILED, "REFUNDCLOSE"),
    ],
)
def test_a_refund_notify_decrypted_under_our_key_tells_the_refund_state(answering, refund_status, state, code):
    status = answering(b"").parse_notify(headers={}, body=refund_notify(refund_status=refund_status))

    assert isinstance(status, RefundStatus)
    assert (status.refund_no, status.state, status.amount, status.order_no, status.refund_id, status.code) == (
        "R1",
        state,
        Decimal("2.34"),
        "P1",
        "50000",
        code,
    )
    assert "req_info" not in status.raw and status.raw["settlement_refund_fee"] == "234"


@pytest.mark.parametrize(
    "body",
    [
        refund_notify(api_key="k" * 32),  # another merchant's key
        refund_notify(appid="wx0000000000000000"),  # another app
        refund_notify(refund_status="PROCESSING"),  # WeChat notifies no such state
        refund_notify(out_refund_no=""),
        refund_notify(refund_fee="2.34"),
        xml_encode({"return_code": "SUCCESS", "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "req_info": "AAAA"}),
    ],
)
def test_a_refund_notify_that_is_not_ours_or_not_final_is_rejected(answering, body):
    with pytest.raises(NotifyRejected):
        answering(b"").parse_notify(headers={}, body=body)


def test_the_notify_reply_is_the_documented_xml(answering):
    assert answering(b"").notify_reply(accepted=True).body == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    )


# Against the sandbox over real HTTP


@live
@pytest.mark.parametrize(
    ("method", "trade_type", "extra"),
    [
        (PaymentMethod.WECHAT_NATIVE, "NATIVE", {"product_id": "P-TT-NATIVE"}),
        (PaymentMethod.WECHAT_JSAPI, "JSAPI", {"openid": OPENID}),
        (PaymentMethod.WECHAT_APP, "APP", {}),
        (PaymentMethod.WECHAT_H5, "MWEB", {}),
    ],
)
@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_each_trade_type_opens_a_payment_with_a_request_signed_as_documented(
    sandbox_adapter, wire, method, trade_type, extra, sign_type
):
    adapter = sandbox_adapter(sign_type=sign_type)
    sent = wire(adapter)
    order_no = f"P-TT-{trade_type}"

    start = adapter.payment_create(payment_request(order_no, method))

    request = sent[0]
    assert request["sign"] == sign_by_hand(request, key=adapter.api_key, sign_type=sign_type)
    assert request.get("sign_type", "MD5") == sign_type
    assert {key: request[key] for key in ("appid", "mch_id", "out_trade_no", "total_fee", "fee_type")} == {
        "appid": adapter.appid,
        "mch_id": adapter.mch_id,
        "out_trade_no": order_no,
        "total_fee": "1234",
        "fee_type": "CNY",
    }
    assert (request["trade_type"], request["time_expire"], request["notify_url"]) == (
        trade_type,
        "20300102110405",
        NOTIFY_URL,
    )
    assert (request["body"], request["spbill_create_ip"]) == ("钱包充值", "203.0.113.7")
    assert {key: request[key] for key in extra} == extra
    payment = SandboxPayment.objects.get(protocol=PROTOCOL, order_no=order_no)
    assert (payment.amount, payment.method, payment.notify_url) == (Decimal("12.34"), trade_type, NOTIFY_URL)
    assert start.prepay_id.startswith("wx") and start.raw["prepay_id"] == start.prepay_id
    assert "sign" not in start.raw and adapter.api_key not in json.dumps(start.raw)


@live
def test_native_pay_answers_a_code_url_of_the_sandbox_cashier(sandbox_adapter, live_server):
    start = sandbox_adapter().payment_create(payment_request("P-NATIVE-1"))

    assert start.code_url == f"{live_server.url}/sandbox/cashier/{PROTOCOL}/P-NATIVE-1/"
    assert requests.get(start.code_url, timeout=5).status_code == 200


@live
def test_h5_pay_sends_the_browser_to_the_cashier_and_back_to_the_return_url(sandbox_adapter, wire, live_server):
    adapter = sandbox_adapter()
    sent = wire(adapter)

    start = adapter.payment_create(payment_request("P-H5-1", PaymentMethod.WECHAT_H5))

    link = urlsplit(start.pay_url)
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{live_server.url}/sandbox/cashier/{PROTOCOL}/P-H5-1/"
    assert parse_qs(link.query) == {"prepay_id": [start.prepay_id], "redirect_url": [RETURN_URL]}
    scene = json.loads(sent[0]["scene_info"])
    assert scene == {"h5_info": {"type": "Wap", "wap_url": "https://wallet.example", "wap_name": "wallet.example"}}


@live
@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_jsapi_pay_gives_the_sdk_parameters_signed_with_the_v2_scheme(sandbox_adapter, sign_type):
    adapter = sandbox_adapter(sign_type=sign_type)

    start = adapter.payment_create(payment_request("P-JSAPI-1", PaymentMethod.WECHAT_JSAPI))

    params = dict(start.app_params)
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert (params["appId"], params["package"], params["signType"]) == (
        adapter.appid,
        f"prepay_id={start.prepay_id}",
        sign_type,
    )
    text = (
        f"appId={params['appId']}&nonceStr={params['nonceStr']}&package=prepay_id={start.prepay_id}"
        f"&signType={sign_type}&timeStamp={params['timeStamp']}&key={adapter.api_key}"
    )
    expected = md5_by_hand(text) if sign_type == "MD5" else hmac_by_hand(text, adapter.api_key)
    assert params["paySign"] == expected
    assert SandboxPayment.objects.get(order_no="P-JSAPI-1").payer_masked == "oUp***S6o"


@live
def test_app_pay_gives_the_sdk_parameters_signed_with_the_v2_scheme(sandbox_adapter):
    adapter = sandbox_adapter()

    start = adapter.payment_create(payment_request("P-APP-1", PaymentMethod.WECHAT_APP))

    params = dict(start.app_params)
    assert (params["appid"], params["partnerid"], params["prepayid"], params["package"]) == (
        adapter.appid,
        adapter.mch_id,
        start.prepay_id,
        "Sign=WXPay",
    )
    text = (
        f"appid={adapter.appid}&noncestr={params['noncestr']}&package=Sign=WXPay&partnerid={adapter.mch_id}"
        f"&prepayid={start.prepay_id}&timestamp={params['timestamp']}&key={adapter.api_key}"
    )
    assert params["sign"] == hmac_by_hand(text, adapter.api_key)  # the sandbox merchant signs HMAC-SHA256


@live
def test_the_same_unpaid_order_again_returns_the_same_prepay_id_and_opens_one_payment(sandbox_adapter):
    scenario("never_pay", "P-TWICE-1")
    adapter = sandbox_adapter()

    first = adapter.payment_create(payment_request("P-TWICE-1"))
    second = adapter.payment_create(payment_request("P-TWICE-1"))

    assert (first.prepay_id, first.code_url) == (second.prepay_id, second.code_url)
    assert SandboxPayment.objects.get(order_no="P-TWICE-1").requests == 2


@live
def test_the_same_order_number_with_another_amount_is_unknown_and_the_payment_keeps_its_amount(sandbox_adapter):
    scenario("never_pay", "P-REUSED-1")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-REUSED-1"))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.payment_create(payment_request("P-REUSED-1", amount="99.00"))

    assert raised.value.code == "INVALID_REQUEST"
    assert SandboxPayment.objects.get(order_no="P-REUSED-1").amount == Decimal("12.34")


@live
def test_a_paid_order_opened_again_is_unknown_so_the_core_queries_and_finds_it_paid(sandbox_adapter):
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-AGAIN-1"))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.payment_create(payment_request("P-AGAIN-1"))

    assert raised.value.code == "ORDERPAID"
    assert adapter.payment_query("P-AGAIN-1").state == PaymentState.PAID


@live
def test_a_closed_order_opened_again_is_refused(sandbox_adapter):
    scenario("never_pay", "P-CLOSED-1")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-CLOSED-1"))
    adapter.payment_close("P-CLOSED-1", expires_at=EXPIRES_AT)

    with pytest.raises(PaymentRefused) as raised:
        adapter.payment_create(payment_request("P-CLOSED-1"))

    assert raised.value.code == "ORDERCLOSED"


@live
def test_the_sandbox_refuses_a_request_altered_after_signing_and_opens_nothing(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    wire(adapter, request_alter=lambda body: body.replace(b"<total_fee>1234</total_fee>", b"<total_fee>1</total_fee>"))

    with pytest.raises(PaymentRefused) as raised:
        adapter.payment_create(payment_request("P-ALTER-1"))

    assert (raised.value.code, str(raised.value)) == ("SIGN_ERROR", "unifiedorder P-ALTER-1: SIGN_ERROR 签名错误")
    assert not SandboxPayment.objects.filter(order_no="P-ALTER-1").exists()


@live
def test_the_sandbox_refuses_a_request_for_another_app_of_the_same_key(sandbox_adapter):
    with pytest.raises(PaymentRefused):
        sandbox_adapter(appid="wx0000000000000000").payment_create(payment_request("P-APP-OTHER-1"))

    assert not SandboxPayment.objects.filter(order_no="P-APP-OTHER-1").exists()


@live
def test_an_adapter_with_another_api_key_never_believes_an_answer(sandbox_adapter):
    adapter = sandbox_adapter(api_key="A" * 32)

    with pytest.raises(UnknownOutcome, match="signature"):
        adapter.payment_query("P-KEY-1")
    with pytest.raises(UnknownOutcome, match="signature"):
        adapter.refund_query("R-KEY-1", order_no="P-KEY-1")


@live
def test_the_sandbox_lacks_params_for_a_jsapi_order_without_openid(live_server):
    keys = keys_for(PROTOCOL)
    fields = {
        "appid": keys["appid"],
        "mch_id": keys["mch_id"],
        "nonce_str": "n1",
        "body": "钱包充值",
        "out_trade_no": "P-LACK-1",
        "total_fee": "1234",
        "spbill_create_ip": "203.0.113.7",
        "notify_url": NOTIFY_URL,
        "trade_type": "JSAPI",
    }

    response = requests.post(
        f"{live_server.url}/sandbox/{PROTOCOL}/pay/unifiedorder",
        data=signed(fields, api_key=keys["api_key"]),
        timeout=5,
    )

    answer = xml_decode(response.content)
    assert (answer["result_code"], answer["err_code"]) == ("FAIL", "LACK_PARAMS")
    assert answer["sign"] == sign_by_hand(answer, key=keys["api_key"], sign_type="MD5")
    assert not SandboxPayment.objects.filter(order_no="P-LACK-1").exists()


@live
def test_query_of_a_paid_order_tells_everything_the_core_compares(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-Q-1"))
    sent = wire(adapter)

    status = adapter.payment_query("P-Q-1")

    payment = SandboxPayment.objects.get(order_no="P-Q-1")
    assert (status.state, status.code, status.amount, status.currency) == (
        PaymentState.PAID,
        "SUCCESS",
        Decimal("12.34"),
        "CNY",
    )
    assert (status.app_id, status.merchant_id, status.transaction_id) == (
        adapter.appid,
        adapter.mch_id,
        payment.transaction_id,
    )
    assert payment.paid_at is not None and status.paid_at == payment.paid_at.replace(microsecond=0)
    assert sent[0]["out_trade_no"] == "P-Q-1" and sent[0]["sign"] == sign_by_hand(
        sent[0], key=adapter.api_key, sign_type="HMAC-SHA256"
    )


@live
def test_query_of_an_unpaid_order_is_not_paid_and_of_an_unknown_one_not_found(sandbox_adapter):
    scenario("never_pay", "P-Q-2")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-Q-2"))

    unpaid = adapter.payment_query("P-Q-2")

    assert (unpaid.state, unpaid.code, unpaid.amount, unpaid.transaction_id) == (
        PaymentState.NOT_PAID,
        "NOTPAY",
        Decimal("12.34"),
        "",
    )
    assert adapter.payment_query("P-Q-NEVER").state == PaymentState.NOT_FOUND


@live
def test_close_of_an_unpaid_order_closes_it_for_good(sandbox_adapter):
    scenario("never_pay", "P-C-1")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-C-1"))

    closed = adapter.payment_close("P-C-1", expires_at=EXPIRES_AT)
    again = adapter.payment_close("P-C-1", expires_at=EXPIRES_AT)

    assert (closed.state, closed.code, closed.app_id, closed.merchant_id) == (
        PaymentState.CLOSED,
        "",
        adapter.appid,
        adapter.mch_id,
    )
    assert (again.state, again.code) == (PaymentState.CLOSED, "ORDERCLOSED")
    assert adapter.payment_query("P-C-1").state == PaymentState.CLOSED
    payment = SandboxPayment.objects.get(order_no="P-C-1")
    assert payment_engine.payment_pay(payment_id=payment.pk).state == SandboxPayment.State.CLOSED


@live
def test_close_of_an_order_the_sandbox_never_got_is_closed(sandbox_adapter):
    status = sandbox_adapter().payment_close("P-C-NEVER", expires_at=EXPIRES_AT)

    assert (status.state, status.code) == (PaymentState.CLOSED, "ORDERNOTEXIST")


@live
def test_close_after_the_payer_paid_is_paid_with_the_payments_details(sandbox_adapter):
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-C-PAID"))

    status = adapter.payment_close("P-C-PAID", expires_at=EXPIRES_AT)

    payment = SandboxPayment.objects.get(order_no="P-C-PAID")
    assert (status.state, status.amount, status.transaction_id) == (
        PaymentState.PAID,
        Decimal("12.34"),
        payment.transaction_id,
    )
    assert payment.state == SandboxPayment.State.PAID


@live
def test_refund_is_accepted_as_processing_and_the_query_then_says_success(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    payment = paid(adapter, "P-R-1")
    sent = wire(adapter)

    accepted = adapter.refund_create(refund_request("P-R-1", "R-R-1", transaction_id=payment.transaction_id))
    queried = adapter.refund_query("R-R-1", order_no="P-R-1")

    refund = SandboxRefund.objects.get(refund_no="R-R-1")
    assert (accepted.state, accepted.refund_id, accepted.amount, accepted.order_no) == (
        RefundState.PROCESSING,
        refund.refund_id,
        Decimal("2.34"),
        "P-R-1",
    )
    assert (queried.state, queried.refund_id, queried.amount) == (
        RefundState.SUCCESS,
        refund.refund_id,
        Decimal("2.34"),
    )
    request = sent[0]
    assert {key: request[key] for key in ("out_trade_no", "out_refund_no", "total_fee", "refund_fee")} == {
        "out_trade_no": "P-R-1",
        "out_refund_no": "R-R-1",
        "total_fee": "1234",
        "refund_fee": "234",
    }
    assert (request["transaction_id"], request["notify_url"], request["refund_desc"]) == (
        payment.transaction_id,
        NOTIFY_URL,
        "商品退货",
    )
    assert request["sign"] == sign_by_hand(request, key=adapter.api_key, sign_type="HMAC-SHA256")
    assert adapter.payment_query("P-R-1").code == "REFUND"


@live
def test_the_same_refund_again_returns_the_same_refund_once(sandbox_adapter):
    adapter = sandbox_adapter()
    paid(adapter, "P-R-2")

    first = adapter.refund_create(refund_request("P-R-2", "R-R-2"))
    second = adapter.refund_create(refund_request("P-R-2", "R-R-2"))

    assert first == replace(second, raw=first.raw)
    assert SandboxRefund.objects.get(refund_no="R-R-2").requests == 2


@live
def test_the_same_refund_number_with_another_amount_is_unknown(sandbox_adapter):
    adapter = sandbox_adapter()
    paid(adapter, "P-R-3")
    adapter.refund_create(refund_request("P-R-3", "R-R-3"))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.refund_create(refund_request("P-R-3", "R-R-3", amount="3.00"))

    assert raised.value.code == "REFUND_FEE_MISMATCH"


@live
def test_refunds_beyond_the_paid_amount_fail_and_take_nothing(sandbox_adapter):
    adapter = sandbox_adapter()
    paid(adapter, "P-R-4")
    adapter.refund_create(refund_request("P-R-4", "R-R-4a", amount="10.00"))

    refused = adapter.refund_create(refund_request("P-R-4", "R-R-4b", amount="2.35"))

    assert (refused.state, refused.code) == (RefundState.FAILED, "ERROR")
    assert not SandboxRefund.objects.filter(refund_no="R-R-4b").exists()


@live
def test_a_refund_with_the_wrong_total_or_transaction_fails(sandbox_adapter):
    adapter = sandbox_adapter()
    paid(adapter, "P-R-5")

    wrong_total = adapter.refund_create(refund_request("P-R-5", "R-R-5a", total="99.00"))
    wrong_transaction = adapter.refund_create(refund_request("P-R-5", "R-R-5b", transaction_id="4200000000"))

    assert (wrong_total.state, wrong_total.code) == (RefundState.FAILED, "PARAM_ERROR")
    assert (wrong_transaction.state, wrong_transaction.code) == (RefundState.FAILED, "INVALID_TRANSACTIONID")
    assert not SandboxRefund.objects.filter(refund_no__startswith="R-R-5").exists()


@live
@pytest.mark.parametrize("unpaid", [True, False])
def test_a_refund_of_an_unpaid_or_unknown_order_fails_with_ordernotexist(sandbox_adapter, unpaid):
    adapter = sandbox_adapter()
    if unpaid:
        scenario("never_pay", "P-R-6")
        adapter.payment_create(payment_request("P-R-6"))

    status = adapter.refund_create(refund_request("P-R-6", "R-R-6"))

    assert (status.state, status.code) == (RefundState.FAILED, "ORDERNOTEXIST")


@live
def test_a_refund_query_of_a_refund_the_sandbox_never_got_is_not_found(sandbox_adapter):
    status = sandbox_adapter().refund_query("R-NEVER", order_no="P-NEVER")

    assert (status.state, status.code) == (RefundState.NOT_FOUND, "REFUNDNOTEXIST")


# Sandbox scenarios and their notifies


@live
def test_pay_now_pays_at_once_and_notifies_once(sandbox_adapter, outbox):
    adapter = sandbox_adapter()

    adapter.payment_create(payment_request("P-S-NOW"))

    assert adapter.payment_query("P-S-NOW").state == PaymentState.PAID
    (notify,) = outbox.run()
    status = adapter.parse_notify(headers={}, body=notify)
    payment = SandboxPayment.objects.get(order_no="P-S-NOW")
    assert (status.state, status.order_no, status.amount, status.transaction_id) == (
        PaymentState.PAID,
        "P-S-NOW",
        Decimal("12.34"),
        payment.transaction_id,
    )
    assert (status.app_id, status.merchant_id, status.currency) == (adapter.appid, adapter.mch_id, "CNY")


@live
def test_pay_late_is_unpaid_until_the_payer_pays_after_the_delay(sandbox_adapter, outbox):
    scenario("pay_late", "P-S-LATE", delay_seconds=30)
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-LATE"))

    assert adapter.payment_query("P-S-LATE").state == PaymentState.NOT_PAID
    assert [task.countdown for task in outbox.notifies()] == [30]
    (notify,) = outbox.run()

    assert adapter.parse_notify(headers={}, body=notify).state == PaymentState.PAID
    assert adapter.payment_query("P-S-LATE").state == PaymentState.PAID


@live
def test_never_pay_stays_unpaid_and_notifies_nothing(sandbox_adapter, outbox):
    scenario("never_pay", "P-S-NEVER")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-NEVER"))

    assert adapter.payment_query("P-S-NEVER").state == PaymentState.NOT_PAID
    assert outbox.run() == []


@live
def test_duplicate_notify_notifies_the_same_payment_three_times(sandbox_adapter, outbox):
    scenario("duplicate_notify", "P-S-DUP")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-DUP"))

    notices = [adapter.parse_notify(headers={}, body=body) for body in outbox.run()]

    assert len(notices) == 3
    assert {(notice.state, notice.order_no, notice.amount, notice.transaction_id) for notice in notices} == {
        (PaymentState.PAID, "P-S-DUP", Decimal("12.34"), SandboxPayment.objects.get(order_no="P-S-DUP").transaction_id)
    }


@live
def test_wrong_amount_notify_is_genuine_but_claims_another_amount_for_the_core_to_refuse(sandbox_adapter, outbox):
    scenario("wrong_amount_notify", "P-S-AMOUNT")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-AMOUNT"))

    (notify,) = outbox.run()

    status = adapter.parse_notify(headers={}, body=notify)
    assert (status.state, status.amount) == (PaymentState.PAID, Decimal("13.34"))


@live
def test_bad_signature_notify_is_rejected(sandbox_adapter, outbox):
    scenario("bad_signature_notify", "P-S-SIGN")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-SIGN"))

    (notify,) = outbox.run()

    with pytest.raises(NotifyRejected, match="signature"):
        adapter.parse_notify(headers={}, body=notify)
    assert adapter.payment_query("P-S-SIGN").state == PaymentState.PAID


@live
def test_paid_without_notify_is_found_only_by_the_query(sandbox_adapter, outbox):
    scenario("paid_without_notify", "P-S-SILENT")
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-SILENT"))

    assert outbox.run() == []
    assert adapter.payment_query("P-S-SILENT").state == PaymentState.PAID


@live
def test_a_pay_notify_tampered_on_the_way_or_for_another_merchant_is_rejected(sandbox_adapter):
    adapter = sandbox_adapter()
    adapter.payment_create(payment_request("P-S-TAMPER"))
    payment = SandboxPayment.objects.get(order_no="P-S-TAMPER")
    keys = keys_for(PROTOCOL)
    _headers, genuine = sandbox_wechat_v2.payment_notify_build(payment, keys, amount=payment.amount, forged=False)

    tampered = genuine.replace(b"<total_fee><![CDATA[1234]]>", b"<total_fee><![CDATA[1]]>")
    assert tampered != genuine
    for body in (
        tampered,
        sandbox_wechat_v2.payment_notify_build(payment, keys | {"appid": "wx0"}, amount=payment.amount, forged=False)[
            1
        ],
        sandbox_wechat_v2.payment_notify_build(payment, keys | {"mch_id": "1"}, amount=payment.amount, forged=False)[1],
        sandbox_wechat_v2.payment_notify_build(
            payment, keys | {"api_key": "B" * 32}, amount=payment.amount, forged=False
        )[1],
    ):
        with pytest.raises(NotifyRejected):
            adapter.parse_notify(headers={}, body=body)
    assert adapter.parse_notify(headers={}, body=genuine).state == PaymentState.PAID


@live
def test_an_md5_merchant_gets_md5_notifies_it_verifies(sandbox_adapter):
    adapter = sandbox_adapter(sign_type="MD5")
    adapter.payment_create(payment_request("P-S-MD5"))
    payment = SandboxPayment.objects.get(order_no="P-S-MD5")

    headers, body = sandbox_wechat_v2.payment_notify_build(
        payment, keys_for(PROTOCOL) | {"sign_type": "MD5"}, amount=payment.amount, forged=False
    )

    assert headers["Content-Type"].startswith("text/xml") and b"sign_type" not in body
    assert adapter.parse_notify(headers=headers, body=body).state == PaymentState.PAID


@live
@pytest.mark.parametrize(
    ("name", "accepted", "final", "code"),
    [
        ("refund_succeed", RefundState.SUCCESS, RefundState.SUCCESS, ""),
        ("refund_process", RefundState.PROCESSING, RefundState.SUCCESS, ""),
        ("refund_fail", RefundState.PROCESSING, RefundState.FAILED, "REFUNDCLOSE"),
    ],
)
def test_refund_scenarios_end_as_they_say_in_query_and_notify(sandbox_adapter, outbox, name, accepted, final, code):
    adapter = sandbox_adapter()
    paid(adapter, "P-S-REFUND")
    outbox.run()
    scenario(name, "P-S-REFUND")

    adapter.refund_create(refund_request("P-S-REFUND", "R-S-REFUND"))

    assert adapter.refund_query("R-S-REFUND", order_no="P-S-REFUND").state == accepted
    (notify,) = outbox.run()
    notice = adapter.parse_notify(headers={}, body=notify)
    queried = adapter.refund_query("R-S-REFUND", order_no="P-S-REFUND")
    refund = SandboxRefund.objects.get(refund_no="R-S-REFUND")
    assert isinstance(notice, RefundStatus)
    assert (notice.state, notice.code, notice.refund_no, notice.order_no, notice.amount, notice.refund_id) == (
        final,
        code,
        "R-S-REFUND",
        "P-S-REFUND",
        Decimal("2.34"),
        refund.refund_id,
    )
    assert (queried.state, queried.code) == (final, code)


@live
def test_a_refund_notify_is_encrypted_for_our_key_only(sandbox_adapter):
    adapter = sandbox_adapter()
    paid(adapter, "P-S-RKEY")
    adapter.refund_create(refund_request("P-S-RKEY", "R-S-RKEY"))
    refund = SandboxRefund.objects.get(refund_no="R-S-RKEY")
    keys = keys_for(PROTOCOL)

    built = sandbox_wechat_v2.refund_notify_build(refund, keys)

    assert built is not None
    body = built[1]
    assert b"<sign>" not in body
    detail = xml_decode(decrypt_by_hand(xml_decode(body)["req_info"], keys["api_key"]), root="root")
    assert (detail["out_refund_no"], detail["refund_status"], detail["refund_fee"]) == ("R-S-RKEY", "SUCCESS", "234")
    with pytest.raises(NotifyRejected):
        sandbox_adapter(api_key="C" * 32).parse_notify(headers={}, body=body)
    with pytest.raises(NotifyRejected):
        sandbox_adapter(appid="wx0").parse_notify(headers={}, body=body)
