"""Alipay (RSA2): signatures against the documented algorithm computed here by hand, every
adapter call against the sandbox over real HTTP, the sandbox's scenarios, notifies, and
configuration."""

import base64
import functools
import json
from datetime import datetime, timedelta
from decimal import Decimal
from types import ModuleType, SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from payments.channels.alipay import AlipayAdapter, adapter_for_sandbox, adapter_from_environment
from payments.channels.base import (
    NotifyRejected,
    PaymentMethod,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    RefundRequest,
    RefundState,
    RefundStatus,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.http import HttpResponse
from payments.order_numbers import order_no_new
from payments.sandbox import alipay as sandbox_alipay
from payments.sandbox import payment_engine, tasks
from payments.sandbox.keys import keys_for
from payments.sandbox.models import PaymentScenario, Protocol, SandboxPayment, SandboxRefund

D = Decimal
ALIPAY = Protocol.ALIPAY
CHINA = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
GATEWAY = "https://openapi.alipay.com/gateway.do"
NOTIFY_URL = "https://wallet.example/api/v1/notify/alipay/"
RETURN_URL = "https://shop.example/paid/"
live = pytest.mark.django_db(transaction=True)
# The expiry of orders whose close never depends on it (the trade exists at Alipay).
LATER = datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC"))


# --- The documented algorithm, written out here independently of the code under test ---------


def rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


@functools.cache
def private_key_by_hand(private_pem: str) -> rsa.RSAPrivateKey:
    """Loading (and checking) an RSA key costs tens of milliseconds: once per key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign_by_hand(private_pem: str, text: str) -> str:
    key = private_key_by_hand(private_pem)
    return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_by_hand(public_pem: str, text: str, signature: str) -> None:
    """Raises InvalidSignature unless ``signature`` is SHA256withRSA of ``text`` in UTF-8."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature), text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())


def request_sign_string(params: dict[str, str]) -> str:
    """Sorted by name, ``sign`` and empty values left out, values as they are."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k])


def notify_sign_string(params: dict[str, str]) -> str:
    """Sorted by name, neither ``sign`` nor ``sign_type``, URL-decoded values."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))


def signed_request_by_hand(secrets: dict, method: str, biz: dict, **extra: str) -> dict[str, str]:
    params = {
        "app_id": secrets["app_id"],
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": datetime.now(CHINA).strftime(TIME_FORMAT),
        "version": "1.0",
        "biz_content": json.dumps(biz, ensure_ascii=False),
        **extra,
    }
    params["sign"] = sign_by_hand(secrets["app_private_key"], request_sign_string(params))
    return params


def answer_node_by_hand(body: str, node: str) -> tuple[str, str]:
    """The raw text of ``node`` as it stands in the body, and the signature (as Alipay's SDKs
    cut it out: from after the node's name to just before ``,"sign"``)."""
    start = body.index(f'"{node}":') + len(node) + 3
    end = body.rindex(',"sign":')
    return body[start:end], json.loads(body)["sign"]


def answer_by_hand(private_pem: str, node: str, payload: dict, *, indent: int | None = None) -> HttpResponse:
    text = json.dumps(payload, ensure_ascii=False, indent=indent)
    body = f'{{"{node}": {text}, "sign": "{sign_by_hand(private_pem, text)}"}}'
    return HttpResponse(status=200, headers={}, body=body.encode())


def china_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA)


# --- Fixtures --------------------------------------------------------------------------------


def payment_request(order_no: str, method: PaymentMethod, *, amount: str = "12.34", **extra) -> PaymentRequest:
    return PaymentRequest(
        order_no=order_no,
        amount=D(amount),
        currency="CNY",
        subject=extra.pop("subject", "钱包充值 & 订单/1"),
        method=method,
        notify_url=NOTIFY_URL,
        expires_at=extra.pop("expires_at", timezone.now() + timedelta(minutes=30)),
        return_url=RETURN_URL,
        **extra,
    )


def refund_request(order_no: str, refund_no: str, amount: str, *, total: str = "12.34") -> RefundRequest:
    return RefundRequest(
        refund_no=refund_no,
        order_no=order_no,
        transaction_id="",
        amount=D(amount),
        total_amount=D(total),
        currency="CNY",
        reason="商品退货",
        notify_url=NOTIFY_URL,
    )


class ChannelRecorder:
    """Stands in for Alipay's gateway where the sandbox cannot play the answer: records what
    was sent and answers ``responses`` in turn."""

    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.sent: list[dict] = []

    def send(self, method: str, path: str, *, body: bytes = b"", headers) -> HttpResponse:
        self.sent.append({"method": method, "path": path, "body": body, "headers": dict(headers)})
        return self.responses.pop(0)


@pytest.fixture(scope="module")
def offline_secrets() -> dict:
    """Keys for tests that never reach the sandbox's database."""
    return sandbox_alipay.keys_generate()


def offline_adapter(secrets: dict, *responses: HttpResponse) -> tuple[AlipayAdapter, ChannelRecorder]:
    adapter = adapter_for_sandbox(secrets, base_url="https://openapi.alipay.com", read_timeout=1)
    recorder = ChannelRecorder(*responses)
    adapter.http = recorder  # type: ignore[assignment]
    return adapter, recorder


@pytest.fixture
def sandbox(sandbox_live, sent_tasks):
    """The sandbox's keys and a factory of adapters pointed at it over real HTTP; ``overrides``
    replace merchant-side secrets (a wrong key, another app). The notifies the sandbox
    schedules are recorded in ``notifies`` instead of reaching a broker no worker reads."""
    secrets = keys_for(ALIPAY)
    notifies = sent_tasks.named(payment_engine.PAYMENT_NOTIFY_TASK)
    refund_settlements = sent_tasks.named(payment_engine.REFUND_NOTIFY_TASK)
    url = f"{sandbox_live.url}/sandbox/alipay"

    def adapter(**overrides: str) -> AlipayAdapter:
        return adapter_for_sandbox({**secrets, **overrides}, base_url=url, read_timeout=5)

    return SimpleNamespace(
        secrets=secrets, adapter=adapter, url=url, notifies=notifies, refund_settlements=refund_settlements
    )


@pytest.fixture
def delivered(monkeypatch) -> list[tuple[str, tuple[dict, bytes]]]:
    """Notifies the sandbox's task would POST, captured (and acknowledged) here."""
    sent: list[tuple[str, tuple[dict, bytes]]] = []

    def deliver(protocol: ModuleType, url: str, built: tuple[dict, bytes], reference: str) -> bool:
        sent.append((url, built))
        return True

    monkeypatch.setattr(tasks, "_deliver", deliver)
    return sent


def open_page(pay_url: str) -> requests.Response:
    """What the payer's browser does with ``pay_url``."""
    return requests.get(pay_url, timeout=10)


def paid_order(sandbox, *, amount: str = "12.34") -> str:
    order_no = order_no_new("PO")
    response = open_page(
        sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE, amount=amount)).pay_url
    )
    assert response.status_code == 200, response.text
    return order_no


# --- Vectors ---------------------------------------------------------------------------------


def test_a_page_pay_url_carries_the_common_parameters_signed_as_documented(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets)
    order_no = order_no_new("PO")
    expires = datetime(2026, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("UTC"))

    start = adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE, expires_at=expires))

    assert recorder.sent == []  # The payer's browser carries it, not us.
    url = urlsplit(start.pay_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == GATEWAY
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    verify_by_hand(offline_secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert params["app_id"] == offline_secrets["app_id"]
    assert params["method"] == "alipay.trade.page.pay"
    assert (params["format"], params["charset"], params["sign_type"], params["version"]) == (
        "JSON",
        "utf-8",
        "RSA2",
        "1.0",
    )
    assert abs(china_time(params["timestamp"]) - timezone.now()) < timedelta(minutes=1)
    assert params["notify_url"] == NOTIFY_URL
    assert params["return_url"] == RETURN_URL
    biz = json.loads(params["biz_content"])
    assert biz == {
        "out_trade_no": order_no,
        "total_amount": "12.34",
        "subject": "钱包充值 订单1",
        "product_code": "FAST_INSTANT_TRADE_PAY",
        "time_expire": "2026-01-02 11:04:05",
    }
    assert start.raw["biz_content"] == biz
    assert "sign" not in start.raw


def test_a_wap_pay_url_is_quick_wap_way_and_leads_back_to_the_return_url(offline_secrets):
    adapter, _ = offline_adapter(offline_secrets)

    start = adapter.payment_create(payment_request(order_no_new("PO"), PaymentMethod.ALIPAY_WAP))

    params = dict(parse_qsl(urlsplit(start.pay_url).query))
    verify_by_hand(offline_secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert params["method"] == "alipay.trade.wap.pay"
    biz = json.loads(params["biz_content"])
    assert biz["product_code"] == "QUICK_WAP_WAY"
    assert biz["quit_url"] == RETURN_URL


def test_an_app_order_string_is_the_url_encoded_signed_parameters_without_a_return_url(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets)

    start = adapter.payment_create(payment_request(order_no_new("PO"), PaymentMethod.ALIPAY_APP))

    order_string = start.app_params["order_string"]
    assert start.pay_url == ""
    assert recorder.sent == []
    assert " " not in order_string and "钱包" not in order_string  # Values travel URL-encoded.
    params = dict(parse_qsl(order_string))
    verify_by_hand(offline_secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert params["method"] == "alipay.trade.app.pay"
    assert "return_url" not in params
    assert json.loads(params["biz_content"])["product_code"] == "QUICK_MSECURITY_PAY"


@pytest.mark.parametrize(
    "change",
    [
        {"method": PaymentMethod.WECHAT_NATIVE},
        {"currency": "USD"},
        {"amount": D("1.234")},
        {"amount": D("0")},
        {"subject": " / = & "},
    ],
    ids=["wechat-method", "usd", "three-places", "zero", "no-subject"],
)
def test_a_payment_alipay_cannot_take_is_refused_before_anything_is_signed(offline_secrets, change):
    adapter, _ = offline_adapter(offline_secrets)
    request = payment_request(order_no_new("PO"), PaymentMethod.ALIPAY_PAGE)

    with pytest.raises(ValueError):
        adapter.payment_create(PaymentRequest(**{**request.__dict__, **change}))


def test_an_api_call_is_a_signed_form_post_to_the_gateway(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=502, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.refund_create(refund_request("PO20250101120000123456789", "RF20250101120000123456789", "1.50"))

    sent = recorder.sent[0]
    assert (sent["method"], sent["path"]) == ("POST", "")
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded;charset=utf-8"
    params = dict(parse_qsl(sent["body"].decode()))
    verify_by_hand(offline_secrets["app_public_key"], request_sign_string(params), params["sign"])
    assert params["method"] == "alipay.trade.refund"
    assert "notify_url" not in params and "return_url" not in params
    assert json.loads(params["biz_content"]) == {
        "out_trade_no": "PO20250101120000123456789",
        "refund_amount": "1.50",
        "out_request_no": "RF20250101120000123456789",
        "refund_reason": "商品退货",
    }


def test_an_answer_is_verified_over_the_exact_text_of_its_response_object(offline_secrets):
    # Pretty-printed, with the signature first: a re-serialisation would not verify.
    payload = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "PO1",
        "trade_no": "2025",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "8.80",
    }
    text = json.dumps(payload, ensure_ascii=False, indent=2)
    signature = sign_by_hand(offline_secrets["alipay_private_key"], text)
    body = f'{{ "sign" : "{signature}",\n "alipay_trade_query_response" :{text} }}'
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=200, headers={}, body=body.encode()))

    status = adapter.payment_query("PO1")

    assert (status.state, status.amount, status.transaction_id) == (PaymentState.PAID, D("8.80"), "2025")


def test_an_answer_whose_signature_covers_a_re_serialisation_is_unknown(offline_secrets):
    payload = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "PO1",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "8.80",
    }
    compact = json.dumps(payload, separators=(",", ":"))
    signature = sign_by_hand(offline_secrets["alipay_private_key"], compact)
    body = f'{{"alipay_trade_query_response": {json.dumps(payload, indent=1)}, "sign": "{signature}"}}'
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=200, headers={}, body=body.encode()))

    with pytest.raises(UnknownOutcome, match="not verified"):
        adapter.payment_query("PO1")


@live
def test_a_sandbox_answer_is_signed_with_alipays_key_over_the_raw_response_text(sandbox):
    order_no = paid_order(sandbox)
    # An empty parameter is sent but left out of the signed string.
    params = signed_request_by_hand(
        sandbox.secrets, "alipay.trade.query", {"out_trade_no": order_no}, app_auth_token=""
    )

    response = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10)

    text, signature = answer_node_by_hand(response.text, "alipay_trade_query_response")
    verify_by_hand(sandbox.secrets["alipay_public_key"], text, signature)
    answer = json.loads(text)
    assert (answer["code"], answer["trade_status"], answer["total_amount"]) == ("10000", "TRADE_SUCCESS", "12.34")
    assert answer["out_trade_no"] == order_no


@pytest.mark.django_db
def test_a_notify_is_signed_over_its_sorted_decoded_fields_without_sign_and_sign_type():
    secrets = keys_for(ALIPAY)
    payment = sandbox_payment(state=SandboxPayment.State.PAID)

    headers, body = sandbox_alipay.payment_notify_build(payment, secrets, amount=payment.amount, forged=False)

    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(body.decode()))
    verify_by_hand(secrets["alipay_public_key"], notify_sign_string(params), params["sign"])
    assert params["sign_type"] == "RSA2"
    assert params["notify_type"] == "trade_status_sync"
    assert params["trade_status"] == "TRADE_SUCCESS"
    assert (params["app_id"], params["seller_id"]) == (secrets["app_id"], secrets["seller_id"])
    assert (params["out_trade_no"], params["trade_no"]) == (payment.order_no, payment.transaction_id)
    assert params["total_amount"] == params["receipt_amount"] == "12.34"
    assert params["subject"] == "钱包充值"
    assert params["buyer_logon_id"] == "136******88"
    assert params["notify_id"] and china_time(params["gmt_payment"]) and china_time(params["notify_time"])


# --- Payments against the sandbox over real HTTP ----------------------------------------------


@live
def test_opening_the_page_pay_url_records_the_payment_and_shows_the_cashier(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()

    response = open_page(adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE)).pay_url)

    assert response.status_code == 200
    assert urlsplit(response.url).path == f"/sandbox/cashier/alipay/{order_no}/"
    payment = SandboxPayment.objects.get(protocol=ALIPAY, order_no=order_no)
    assert (payment.amount, payment.method, payment.notify_url) == (D("12.34"), "alipay_page", NOTIFY_URL)
    status = adapter.payment_query(order_no)
    assert status.state == PaymentState.PAID
    assert (status.amount, status.currency, status.transaction_id) == (D("12.34"), None, payment.transaction_id)
    assert (status.app_id, status.merchant_id) == (sandbox.secrets["app_id"], sandbox.secrets["seller_id"])
    assert status.paid_at is not None and abs(status.paid_at - timezone.now()) < timedelta(minutes=1)
    assert sandbox.notifies == [{"args": [payment.pk, "genuine"], "countdown": 0.0}]


@live
def test_opening_the_wap_pay_url_records_a_wap_payment(sandbox):
    order_no = order_no_new("PO")

    response = open_page(sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_WAP)).pay_url)

    assert response.status_code == 200
    assert SandboxPayment.objects.get(protocol=ALIPAY, order_no=order_no).method == "alipay_wap"


@live
def test_the_app_order_string_posted_by_the_alipay_app_records_the_payment_and_answers_signed(sandbox):
    order_no = order_no_new("PO")
    start = sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_APP))

    answer = requests.post(f"{sandbox.url}/app_pay", data=start.app_params["order_string"], timeout=10).json()

    assert answer["resultStatus"] == "9000"
    text, signature = answer_node_by_hand(answer["result"], "alipay_trade_app_pay_response")
    verify_by_hand(sandbox.secrets["alipay_public_key"], text, signature)
    result = json.loads(text)
    assert (result["out_trade_no"], result["total_amount"], result["seller_id"]) == (
        order_no,
        "12.34",
        sandbox.secrets["seller_id"],
    )
    assert SandboxPayment.objects.get(protocol=ALIPAY, order_no=order_no).method == "alipay_app"


@live
def test_opening_the_same_url_again_is_the_same_payment_but_another_amount_is_refused(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()
    start = adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE))

    first = open_page(start.pay_url)
    again = open_page(start.pay_url)
    other = open_page(
        adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE, amount="99.00")).pay_url
    )

    assert first.status_code == again.status_code == 200
    assert other.status_code == 400 and "ACQ.CONTEXT_INCONSISTENT" in other.text
    payment = SandboxPayment.objects.get(protocol=ALIPAY, order_no=order_no)
    assert (payment.amount, payment.requests) == (D("12.34"), 3)


@live
def test_a_query_of_a_trade_alipay_never_had_is_not_found(sandbox):
    status = sandbox.adapter().payment_query(order_no_new("PO"))

    assert (status.state, status.code) == (PaymentState.NOT_FOUND, "ACQ.TRADE_NOT_EXIST")


@live
def test_closing_an_unpaid_trade_closes_it_and_a_query_then_says_closed(sandbox):
    order_no = order_no_new("PO")
    payment_engine.payment_rule_add(protocol=ALIPAY, scenario=PaymentScenario.NEVER_PAY, order_no=order_no)
    adapter = sandbox.adapter()
    open_page(adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE)).pay_url)

    closed = adapter.payment_close(order_no, expires_at=LATER)

    assert closed.state == PaymentState.CLOSED
    assert closed.transaction_id == SandboxPayment.objects.get(order_no=order_no).transaction_id
    assert adapter.payment_query(order_no).state == PaymentState.CLOSED
    assert adapter.payment_close(order_no, expires_at=LATER).state == PaymentState.CLOSED
    reopened = open_page(adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE)).pay_url)
    assert reopened.status_code == 400 and "ACQ.TRADE_HAS_CLOSE" in reopened.text


@live
def test_closing_a_trade_never_opened_is_retried_while_its_url_can_still_be_paid(sandbox):
    adapter = sandbox.adapter()
    order_no = order_no_new("PO")
    expires_at = timezone.now() + timedelta(minutes=30)
    start = adapter.payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE, expires_at=expires_at))

    with pytest.raises(RetryableError, match="not opened yet") as raised:
        adapter.payment_close(order_no, expires_at=expires_at)

    assert raised.value.code == "ACQ.TRADE_NOT_EXIST"
    assert open_page(start.pay_url).status_code == 200  # the payer could still pay: nothing was closed
    assert SandboxPayment.objects.filter(protocol=ALIPAY, order_no=order_no).exists()


@live
def test_closing_a_trade_never_opened_is_closed_only_once_a_minute_past_its_expiry(sandbox):
    adapter = sandbox.adapter()

    with pytest.raises(RetryableError):
        adapter.payment_close(order_no_new("PO"), expires_at=timezone.now() - timedelta(seconds=30))
    closed = adapter.payment_close(order_no_new("PO"), expires_at=timezone.now() - timedelta(seconds=61))

    assert (closed.state, closed.code) == (PaymentState.CLOSED, "ACQ.TRADE_NOT_EXIST")


@live
@pytest.mark.parametrize("method", [PaymentMethod.ALIPAY_PAGE, PaymentMethod.ALIPAY_WAP])
def test_a_pay_url_opened_after_its_expiry_and_close_is_refused_and_pays_nothing(sandbox, method):
    adapter = sandbox.adapter()
    order_no = order_no_new("PO")
    expires_at = timezone.now() - timedelta(minutes=2)
    start = adapter.payment_create(payment_request(order_no, method, expires_at=expires_at))

    closed = adapter.payment_close(order_no, expires_at=expires_at)
    opened = open_page(start.pay_url)

    assert closed.state == PaymentState.CLOSED
    assert opened.status_code == 400 and "ACQ.TRADE_HAS_CLOSE" in opened.text
    assert not SandboxPayment.objects.filter(protocol=ALIPAY, order_no=order_no).exists()
    assert sandbox.notifies == []


@live
def test_an_app_order_string_after_its_expiry_is_refused_and_pays_nothing(sandbox):
    order_no = order_no_new("PO")
    expired = timezone.now() - timedelta(seconds=5)
    start = sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_APP, expires_at=expired))

    answer = requests.post(f"{sandbox.url}/app_pay", data=start.app_params["order_string"], timeout=10).json()

    assert answer["resultStatus"] == "4000"
    assert not SandboxPayment.objects.filter(protocol=ALIPAY, order_no=order_no).exists()


@live
def test_closing_a_trade_the_payer_already_paid_says_paid_with_the_amount(sandbox):
    order_no = paid_order(sandbox)

    status = sandbox.adapter().payment_close(order_no, expires_at=LATER)

    assert (status.state, status.amount) == (PaymentState.PAID, D("12.34"))
    assert SandboxPayment.objects.get(order_no=order_no).state == SandboxPayment.State.PAID


# --- Refunds against the sandbox --------------------------------------------------------------


@live
def test_partial_refunds_succeed_up_to_the_paid_amount_and_not_a_fen_more(sandbox):
    order_no = paid_order(sandbox)
    adapter = sandbox.adapter()

    first = adapter.refund_create(refund_request(order_no, "RF1" + order_no[2:], "2.34"))
    second = adapter.refund_create(refund_request(order_no, "RF2" + order_no[2:], "10.00"))
    over = adapter.refund_create(refund_request(order_no, "RF3" + order_no[2:], "0.01"))

    assert (first.state, first.amount, first.order_no) == (RefundState.SUCCESS, D("2.34"), order_no)
    assert (second.state, second.raw["refund_fee"], second.raw["fund_change"]) == (RefundState.SUCCESS, "12.34", "Y")
    assert (over.state, over.code) == (RefundState.FAILED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    assert SandboxRefund.objects.filter(payment__order_no=order_no).count() == 2


@live
def test_a_full_refund_succeeds_and_a_refund_above_the_paid_amount_fails(sandbox):
    order_no = paid_order(sandbox)
    adapter = sandbox.adapter()

    above = adapter.refund_create(refund_request(order_no, "RF1" + order_no[2:], "12.35"))
    full = adapter.refund_create(refund_request(order_no, "RF2" + order_no[2:], "12.34"))

    assert (above.state, above.code) == (RefundState.FAILED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    assert full.state == RefundState.SUCCESS


@live
def test_the_same_refund_number_again_moves_no_money_and_the_query_confirms_the_success(sandbox):
    order_no = paid_order(sandbox)
    adapter = sandbox.adapter()
    refund_no = "RF" + order_no[2:]

    first = adapter.refund_create(refund_request(order_no, refund_no, "5.00"))
    again = adapter.refund_create(refund_request(order_no, refund_no, "5.00"))
    with pytest.raises(UnknownOutcome) as changed:  # the first refund under that number may stand
        adapter.refund_create(refund_request(order_no, refund_no, "6.00"))

    assert first.state == again.state == RefundState.SUCCESS
    assert again.amount == D("5.00")
    assert again.code == "REFUND_SUCCESS"  # Decided by the refund query after fund_change N.
    assert changed.value.code == "ACQ.DISCORDANT_REPEAT_REQUEST"
    assert adapter.refund_query(refund_no, order_no=order_no).amount == D("5.00")
    refund = SandboxRefund.objects.get(refund_no=refund_no)
    assert (refund.requests, refund.state) == (2, SandboxRefund.State.SUCCESS)


@live
def test_a_refund_query_finds_the_refund_and_nothing_for_another_number_or_trade(sandbox):
    order_no = paid_order(sandbox)
    adapter = sandbox.adapter()
    refund_no = "RF" + order_no[2:]
    adapter.refund_create(refund_request(order_no, refund_no, "3.00"))

    found = adapter.refund_query(refund_no, order_no=order_no)
    other_refund = adapter.refund_query("RF9" + order_no[3:], order_no=order_no)
    other_trade = adapter.refund_query(refund_no, order_no=order_no_new("PO"))

    assert (found.state, found.amount, found.order_no) == (RefundState.SUCCESS, D("3.00"), order_no)
    assert other_refund.state == other_trade.state == RefundState.NOT_FOUND


@live
def test_refunding_a_trade_that_is_unknown_or_unpaid_fails_with_alipays_sub_code(sandbox):
    unpaid = order_no_new("PO")
    payment_engine.payment_rule_add(protocol=ALIPAY, scenario=PaymentScenario.NEVER_PAY, order_no=unpaid)
    adapter = sandbox.adapter()
    open_page(adapter.payment_create(payment_request(unpaid, PaymentMethod.ALIPAY_PAGE)).pay_url)

    unknown = adapter.refund_create(refund_request(order_no_new("PO"), "RF" + unpaid[2:], "1.00"))
    not_paid = adapter.refund_create(refund_request(unpaid, "RF" + unpaid[2:], "1.00"))

    assert (unknown.state, unknown.code) == (RefundState.FAILED, "ACQ.TRADE_NOT_EXIST")
    assert (not_paid.state, not_paid.code) == (RefundState.FAILED, "ACQ.TRADE_STATUS_ERROR")
    assert not SandboxRefund.objects.filter(payment__order_no=unpaid).exists()


@live
def test_the_refund_fail_scenario_is_refused_at_once_and_queries_as_no_refund(sandbox):
    order_no = paid_order(sandbox)
    payment_engine.payment_rule_add(
        protocol=ALIPAY, scenario=PaymentScenario.REFUND_FAIL, order_no=order_no, remaining=1
    )
    adapter = sandbox.adapter()
    refund_no = "RF" + order_no[2:]

    refused = adapter.refund_create(refund_request(order_no, refund_no, "1.00"))
    again = adapter.refund_create(refund_request(order_no, refund_no, "1.00"))

    assert (refused.state, refused.code) == (RefundState.FAILED, "ACQ.BUYER_ERROR")
    assert again.code == "ACQ.BUYER_ERROR"
    assert SandboxRefund.objects.get(refund_no=refund_no).state == SandboxRefund.State.FAILED
    assert adapter.refund_query(refund_no, order_no=order_no).state == RefundState.NOT_FOUND
    assert adapter.refund_create(refund_request(order_no, "RG" + order_no[2:], "12.34")).state == RefundState.SUCCESS


@live
def test_a_refund_alipay_has_not_finished_is_unknown_until_the_query_says_refund_success(sandbox):
    order_no = paid_order(sandbox)
    payment_engine.payment_rule_add(protocol=ALIPAY, scenario=PaymentScenario.REFUND_PROCESS, order_no=order_no)
    adapter = sandbox.adapter()
    refund_no = "RF" + order_no[2:]

    with pytest.raises(UnknownOutcome):  # fund_change N, and the query shows no refund_status yet
        adapter.refund_create(refund_request(order_no, refund_no, "4.00"))
    pending = adapter.refund_query(refund_no, order_no=order_no)
    refund = SandboxRefund.objects.get(refund_no=refund_no)
    payment_engine.refund_settle(refund_id=refund.pk, state=SandboxRefund.State.SUCCESS)
    settled = adapter.refund_query(refund_no, order_no=order_no)

    assert pending.state == RefundState.NOT_FOUND  # the core sends the same out_request_no again
    assert sandbox.refund_settlements[0]["args"] == [refund.pk, SandboxRefund.State.SUCCESS]
    assert (settled.state, settled.amount) == (RefundState.SUCCESS, D("4.00"))


# --- The merchant's signature, checked by the sandbox ----------------------------------------


@live
def test_requests_signed_with_another_app_key_are_refused_and_change_nothing(sandbox):
    order_no = paid_order(sandbox)
    stranger_private, _ = rsa_key_pair()
    impostor = sandbox.adapter(app_private_key=stranger_private)

    with pytest.raises(RetryableError) as query:
        impostor.payment_query(order_no)
    with pytest.raises(RetryableError):
        impostor.payment_close(order_no, expires_at=LATER)
    refund = impostor.refund_create(refund_request(order_no, "RF" + order_no[2:], "1.00"))
    page = open_page(impostor.payment_create(payment_request(order_no_new("PO"), PaymentMethod.ALIPAY_PAGE)).pay_url)
    app = impostor.payment_create(payment_request(order_no_new("PO"), PaymentMethod.ALIPAY_APP))
    app_answer = requests.post(f"{sandbox.url}/app_pay", data=app.app_params["order_string"], timeout=10).json()

    assert query.value.code == "isv.invalid-signature"
    assert (refund.state, refund.code) == (RefundState.FAILED, "isv.invalid-signature")
    assert page.status_code == 400 and "isv.invalid-signature" in page.text
    assert app_answer["resultStatus"] == "4000"
    assert not SandboxRefund.objects.filter(payment__order_no=order_no).exists()
    assert SandboxPayment.objects.filter(protocol=ALIPAY).count() == 1


@live
def test_a_pay_url_altered_after_signing_is_refused_and_records_nothing(sandbox):
    order_no = order_no_new("PO")
    start = sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE))
    params = dict(parse_qsl(urlsplit(start.pay_url).query))
    params["biz_content"] = params["biz_content"].replace('"12.34"', '"0.01"')

    response = requests.get(f"{sandbox.url}/gateway.do?{urlencode(params)}", timeout=10)

    assert response.status_code == 400 and "isv.invalid-signature" in response.text
    assert not SandboxPayment.objects.filter(order_no=order_no).exists()


@live
@pytest.mark.parametrize(
    ("change", "sub_code"),
    [
        ({"sign_type": ""}, "isv.missing-signature-type"),
        ({"sign_type": "RSA"}, "isv.invalid-signature-type"),
        ({"sign": ""}, "isv.missing-signature"),
        ({"app_id": "9021000000000001"}, "isv.invalid-app-id"),
        ({"method": "alipay.trade.pay.everything"}, "isv.invalid-method"),
    ],
)
def test_the_gateway_refuses_bad_common_parameters_in_alipays_codes(sandbox, change, sub_code):
    params = signed_request_by_hand(sandbox.secrets, "alipay.trade.query", {"out_trade_no": "PO1"})
    params.update(change)
    if "sign" not in change:
        params["sign"] = sign_by_hand(sandbox.secrets["app_private_key"], request_sign_string(params))

    body = requests.post(f"{sandbox.url}/gateway.do", data=params, timeout=10).text

    node = "error_response" if "method" in change else "alipay_trade_query_response"
    text, signature = answer_node_by_hand(body, node)
    verify_by_hand(sandbox.secrets["alipay_public_key"], text, signature)
    assert json.loads(text)["sub_code"] == sub_code


@live
def test_an_answer_signed_by_another_alipay_key_is_unknown_never_believed(sandbox):
    order_no = paid_order(sandbox)
    _, stranger_public = rsa_key_pair()
    misled = sandbox.adapter(alipay_public_key=stranger_public)

    with pytest.raises(UnknownOutcome, match="not verified"):
        misled.payment_query(order_no)
    with pytest.raises(UnknownOutcome):
        misled.refund_create(refund_request(order_no, "RF" + order_no[2:], "1.00"))

    assert SandboxRefund.objects.get(refund_no="RF" + order_no[2:]).state == SandboxRefund.State.SUCCESS


# --- Scenarios ---------------------------------------------------------------------------------


def open_with(sandbox, scenario: str, **rule) -> tuple[str, SandboxPayment]:
    order_no = order_no_new("PO")
    payment_engine.payment_rule_add(protocol=ALIPAY, scenario=scenario, order_no=order_no, **rule)
    open_page(sandbox.adapter().payment_create(payment_request(order_no, PaymentMethod.ALIPAY_PAGE)).pay_url)
    return order_no, SandboxPayment.objects.get(protocol=ALIPAY, order_no=order_no)


def run_notify(notify: dict) -> None:
    tasks.sandbox_payment_notify.apply(args=notify["args"], throw=True)


@live
def test_pay_now_is_paid_at_once_and_its_notify_parses_as_paid(sandbox, delivered):
    order_no, payment = open_with(sandbox, PaymentScenario.PAY_NOW)
    adapter = sandbox.adapter()

    run_notify(sandbox.notifies[0])

    url, (headers, body) = delivered[0]
    status = adapter.parse_notify(headers=headers, body=body)
    assert url == NOTIFY_URL
    assert (status.state, status.amount, status.order_no) == (PaymentState.PAID, D("12.34"), order_no)
    assert (status.app_id, status.merchant_id) == (adapter.app_id, adapter.merchant_id)
    assert status.transaction_id == payment.transaction_id
    assert "sign" not in status.raw


@live
def test_pay_late_is_unpaid_until_the_payer_pays_then_notified(sandbox, delivered):
    order_no, payment = open_with(sandbox, PaymentScenario.PAY_LATE, delay_seconds=30)
    adapter = sandbox.adapter()

    before = adapter.payment_query(order_no)
    run_notify(sandbox.notifies[0])

    assert (before.state, before.amount, before.code) == (PaymentState.NOT_PAID, D("12.34"), "WAIT_BUYER_PAY")
    assert sandbox.notifies[0]["countdown"] == 30
    assert adapter.parse_notify(headers=delivered[0][1][0], body=delivered[0][1][1]).state == PaymentState.PAID
    assert adapter.payment_query(order_no).state == PaymentState.PAID


@live
def test_never_pay_stays_unpaid_and_is_never_notified(sandbox):
    order_no, _ = open_with(sandbox, PaymentScenario.NEVER_PAY)

    assert sandbox.adapter().payment_query(order_no).state == PaymentState.NOT_PAID
    assert sandbox.notifies == []


@live
def test_duplicate_notify_sends_three_genuine_notifies_of_one_payment(sandbox, delivered):
    _, payment = open_with(sandbox, PaymentScenario.DUPLICATE_NOTIFY)
    adapter = sandbox.adapter()

    for notify in sandbox.notifies:
        run_notify(notify)

    statuses = [adapter.parse_notify(headers=headers, body=body) for _, (headers, body) in delivered]
    assert len(statuses) == 3
    assert {(s.state, s.transaction_id) for s in statuses} == {(PaymentState.PAID, payment.transaction_id)}


@live
def test_wrong_amount_notify_is_genuine_but_claims_another_amount(sandbox, delivered):
    _, payment = open_with(sandbox, PaymentScenario.WRONG_AMOUNT_NOTIFY)

    run_notify(sandbox.notifies[0])

    status = sandbox.adapter().parse_notify(headers=delivered[0][1][0], body=delivered[0][1][1])
    assert status.amount == payment.amount + D("1.00")  # The core compares it with the order.


@live
def test_bad_signature_notify_is_rejected(sandbox, delivered):
    open_with(sandbox, PaymentScenario.BAD_SIGNATURE_NOTIFY)

    run_notify(sandbox.notifies[0])

    with pytest.raises(NotifyRejected, match="signature"):
        sandbox.adapter().parse_notify(headers=delivered[0][1][0], body=delivered[0][1][1])


@live
def test_paid_without_notify_is_found_paid_only_by_a_query(sandbox):
    order_no, _ = open_with(sandbox, PaymentScenario.PAID_WITHOUT_NOTIFY)

    assert sandbox.adapter().payment_query(order_no).state == PaymentState.PAID
    assert sandbox.notifies == []


# --- Answers the sandbox does not play, signed here with Alipay's key --------------------------


ORDER_NO, REFUND_NO = "PO20250101120000123456789", "RF20250101120000123456789"


def query_answer(**fields: str) -> dict:
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": ORDER_NO,
        "trade_no": "2025010122001",
        "total_amount": "12.34",
        **fields,
    }


def failure(code: str, sub_code: str) -> dict:
    return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "…"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(query_answer(trade_status="TRADE_FINISHED"), PaymentState.PAID, id="finished"),
        pytest.param(query_answer(trade_status="WAIT_BUYER_PAY"), PaymentState.NOT_PAID, id="waiting"),
        pytest.param(query_answer(trade_status="TRADE_CLOSED"), PaymentState.CLOSED, id="closed"),
        pytest.param(query_answer(trade_status="TRADE_PENDING"), UnknownOutcome, id="unknown-status"),
        pytest.param(query_answer(trade_status="TRADE_SUCCESS", out_trade_no="PO1"), UnknownOutcome, id="other-trade"),
        pytest.param(query_answer(trade_status="TRADE_SUCCESS", total_amount="1e3"), UnknownOutcome, id="bad-amount"),
        pytest.param(failure("20000", "isp.unknow-error"), UnknownOutcome, id="unavailable"),
        pytest.param(failure("40004", "ACQ.SYSTEM_ERROR"), UnknownOutcome, id="system-error"),
        pytest.param(failure("40004", "ACQ.INVALID_PARAMETER"), RetryableError, id="invalid-parameter"),
    ],
)
def test_query_answers_map_onto_states_or_unknown(offline_secrets, payload, expected):
    answer = answer_by_hand(offline_secrets["alipay_private_key"], "alipay_trade_query_response", payload)
    adapter, _ = offline_adapter(offline_secrets, answer)

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.payment_query(ORDER_NO)
    else:
        assert adapter.payment_query(ORDER_NO).state == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            {"code": "10000", "msg": "Success", "out_trade_no": ORDER_NO, "fund_change": "Y", "refund_fee": "1.00"},
            (RefundState.SUCCESS, ""),
            id="fund-change",
        ),
        pytest.param(
            failure("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH"),
            (RefundState.FAILED, "ACQ.SELLER_BALANCE_NOT_ENOUGH"),
            id="balance",
        ),
        pytest.param(
            failure("40004", "ACQ.TRADE_HAS_FINISHED"), (RefundState.FAILED, "ACQ.TRADE_HAS_FINISHED"), id="finished"
        ),
        pytest.param(failure("40004", "ACQ.SYSTEM_ERROR"), UnknownOutcome, id="system-error"),
        pytest.param(failure("20000", "isp.unknow-error"), UnknownOutcome, id="unavailable"),
        # The number was used before with other parameters: that first refund may have been made.
        pytest.param(failure("40004", "ACQ.DISCORDANT_REPEAT_REQUEST"), UnknownOutcome, id="discordant-repeat"),
        pytest.param(
            {"code": "10000", "msg": "Success", "out_trade_no": "PO1", "fund_change": "Y"},
            UnknownOutcome,
            id="other-trade",
        ),
    ],
)
def test_refund_answers_map_onto_success_failed_or_unknown(offline_secrets, payload, expected):
    answer = answer_by_hand(offline_secrets["alipay_private_key"], "alipay_trade_refund_response", payload)
    adapter, _ = offline_adapter(offline_secrets, answer)

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.refund_create(refund_request(ORDER_NO, REFUND_NO, "1.00"))
    else:
        result = adapter.refund_create(refund_request(ORDER_NO, REFUND_NO, "1.00"))
        assert (result.state, result.code) == expected


def refund_query_answer(**fields: str) -> dict:
    listed = {"out_trade_no": ORDER_NO, "out_request_no": REFUND_NO, "total_amount": "12.34", "refund_amount": "1.00"}
    return {"code": "10000", "msg": "Success", **listed, **fields}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(refund_query_answer(refund_status="REFUND_SUCCESS"), RefundState.SUCCESS, id="success"),
        # "Not received or failed", in Alipay's words: the same out_request_no is sent again.
        pytest.param(refund_query_answer(), RefundState.NOT_FOUND, id="listed-without-status"),
        pytest.param({"code": "10000", "msg": "Success"}, RefundState.NOT_FOUND, id="nothing-listed"),
        pytest.param(failure("40004", "TRADE_NOT_EXIST"), RefundState.NOT_FOUND, id="no-trade"),
        pytest.param(
            refund_query_answer(refund_status="REFUND_LATER"), RefundState.PROCESSING, id="status-added-later"
        ),
        pytest.param(
            refund_query_answer(refund_status="REFUND_SUCCESS", out_request_no="RF1"), UnknownOutcome, id="other"
        ),
        pytest.param(
            refund_query_answer(refund_status="REFUND_SUCCESS", refund_amount="1e2"), UnknownOutcome, id="amount"
        ),
    ],
)
def test_refund_query_answers_map_onto_success_not_found_or_unknown(offline_secrets, payload, expected):
    answer = answer_by_hand(
        offline_secrets["alipay_private_key"], "alipay_trade_fastpay_refund_query_response", payload
    )
    adapter, _ = offline_adapter(offline_secrets, answer)

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.refund_query(REFUND_NO, order_no=ORDER_NO)
    else:
        assert adapter.refund_query(REFUND_NO, order_no=ORDER_NO).state == expected


@pytest.mark.parametrize(("trans_currency", "currency"), [({}, None), ({"trans_currency": "USD"}, "USD")])
def test_a_query_states_a_currency_only_when_alipay_gives_one(offline_secrets, trans_currency, currency):
    payload = query_answer(trade_status="WAIT_BUYER_PAY", **trans_currency)
    answer = answer_by_hand(offline_secrets["alipay_private_key"], "alipay_trade_query_response", payload)
    adapter, _ = offline_adapter(offline_secrets, answer)

    assert adapter.payment_query(ORDER_NO).currency == currency


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda s: HttpResponse(status=500, headers={}, body=b""), id="500"),
        pytest.param(lambda s: HttpResponse(status=200, headers={}, body=b"<html>busy</html>"), id="not-json"),
        pytest.param(
            lambda s: HttpResponse(
                status=200,
                headers={},
                body=json.dumps({"alipay_trade_query_response": query_answer(trade_status="TRADE_SUCCESS")}).encode(),
            ),
            id="unsigned",
        ),
        pytest.param(
            lambda s: HttpResponse(
                status=200,
                headers={},
                body=answer_by_hand(
                    s["alipay_private_key"], "alipay_trade_query_response", query_answer(trade_status="WAIT_BUYER_PAY")
                ).body.replace(b"WAIT_BUYER_PAY", b"TRADE_SUCCESS"),
            ),
            id="tampered",
        ),
        pytest.param(
            lambda s: answer_by_hand(
                rsa_key_pair()[0], "alipay_trade_query_response", query_answer(trade_status="TRADE_SUCCESS")
            ),
            id="stranger",
        ),
        pytest.param(
            lambda s: answer_by_hand(
                s["alipay_private_key"], "alipay_trade_close_response", query_answer(trade_status="TRADE_SUCCESS")
            ),
            id="another-method",
        ),
    ],
)
def test_an_answer_that_does_not_verify_is_unknown_whatever_it_says(offline_secrets, answer):
    adapter, _ = offline_adapter(offline_secrets, answer(offline_secrets))

    with pytest.raises(UnknownOutcome):
        adapter.payment_query(ORDER_NO)


# --- Notifies ----------------------------------------------------------------------------------


def sandbox_payment(*, state: str) -> SandboxPayment:
    return SandboxPayment.objects.create(
        protocol=ALIPAY,
        order_no=order_no_new("PO"),
        transaction_id=f"2025{order_no_new('T')[1:]}",
        amount=D("12.34"),
        subject="钱包充值",
        method=PaymentMethod.ALIPAY_PAGE,
        payer_masked="136******88",
        state=state,
        scenario=PaymentScenario.PAY_NOW,
        paid_at=timezone.now(),
    )


def notify_adapter(secrets: dict) -> AlipayAdapter:
    return adapter_for_sandbox(secrets, base_url="http://127.0.0.1:9/sandbox/alipay", read_timeout=1)


def genuine_notify(secrets: dict) -> dict[str, str]:
    payment = sandbox_payment(state=SandboxPayment.State.PAID)
    _, body = sandbox_alipay.payment_notify_build(payment, secrets, amount=payment.amount, forged=False)
    return dict(parse_qsl(body.decode()))


def resigned(secrets: dict, params: dict[str, str], *, key: str | None = None) -> bytes:
    """The notify re-signed by hand (with Alipay's key unless ``key``)."""
    fields = {k: v for k, v in params.items() if k != "sign"}
    fields["sign"] = sign_by_hand(key or secrets["alipay_private_key"], notify_sign_string(fields))
    return urlencode(fields).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trade_status", "state"),
    [
        ("TRADE_SUCCESS", PaymentState.PAID),
        ("TRADE_FINISHED", PaymentState.PAID),
        ("WAIT_BUYER_PAY", PaymentState.NOT_PAID),
        ("TRADE_CLOSED", PaymentState.CLOSED),
    ],
)
def test_only_trade_success_and_trade_finished_notifies_are_paid(trade_status, state):
    secrets = keys_for(ALIPAY)
    params = {**genuine_notify(secrets), "trade_status": trade_status}

    status = notify_adapter(secrets).parse_notify(headers={}, body=resigned(secrets, params))

    assert isinstance(status, PaymentStatus)
    assert status.state == state
    assert (status.amount, status.currency) == (D("12.34"), None)  # Alipay's notify states no currency
    assert (status.paid_at is not None) == (state == PaymentState.PAID)


@pytest.mark.django_db
def test_a_notify_a_refund_caused_reports_that_refund_not_a_closed_payment():
    secrets = keys_for(ALIPAY)
    params = {
        **genuine_notify(secrets),
        "trade_status": "TRADE_CLOSED",
        "out_biz_no": REFUND_NO,
        "refund_fee": "12.34",
        "gmt_refund": "2025-01-01 12:00:00.123",
    }

    notice = notify_adapter(secrets).parse_notify(headers={}, body=resigned(secrets, params))

    assert isinstance(notice, RefundStatus)
    assert (notice.refund_no, notice.state, notice.order_no) == (REFUND_NO, RefundState.SUCCESS, params["out_trade_no"])


def forged_signature(secrets, params):
    payment = sandbox_payment(state=SandboxPayment.State.PAID)
    return sandbox_alipay.payment_notify_build(payment, secrets, amount=payment.amount, forged=True)[1]


def tampered_amount(secrets, params):
    return urlencode({**params, "total_amount": "0.01"}).encode()


def another_app(secrets, params):
    return resigned(secrets, {**params, "app_id": "9021000000000001"})


def another_seller(secrets, params):
    return resigned(secrets, {**params, "seller_id": "2088000000000001"})


def without_sign_type(secrets, params):
    return urlencode({k: v for k, v in params.items() if k != "sign_type"}).encode()


def rsa1_sign_type(secrets, params):
    return urlencode({**params, "sign_type": "RSA"}).encode()


def signed_by_a_stranger(secrets, params):
    return resigned(secrets, params, key=rsa_key_pair()[0])


def without_signature(secrets, params):
    return urlencode({k: v for k, v in params.items() if k != "sign"}).encode()


def another_notify_type(secrets, params):
    return resigned(secrets, {**params, "notify_type": "trade_refund_sync"})


def unknown_trade_status(secrets, params):
    return resigned(secrets, {**params, "trade_status": "TRADE_PENDING"})


def field_given_twice(secrets, params):
    return urlencode(params).encode() + b"&total_amount=99.00"


def not_a_form(secrets, params):
    return b"\xff\xfe<xml/>"


def amount_not_a_number(secrets, params):
    return resigned(secrets, {**params, "total_amount": "NaN"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forge",
    [
        forged_signature,
        tampered_amount,
        another_app,
        another_seller,
        without_sign_type,
        rsa1_sign_type,
        signed_by_a_stranger,
        without_signature,
        another_notify_type,
        unknown_trade_status,
        field_given_twice,
        not_a_form,
        amount_not_a_number,
    ],
)
def test_a_notify_that_is_not_genuine_or_not_ours_is_rejected(forge):
    secrets = keys_for(ALIPAY)
    body = forge(secrets, genuine_notify(secrets))

    with pytest.raises(NotifyRejected):
        notify_adapter(secrets).parse_notify(headers={}, body=body)


@pytest.mark.django_db
def test_alipay_has_no_refund_notifies_here():
    payment = sandbox_payment(state=SandboxPayment.State.PAID)
    refund = SandboxRefund.objects.create(
        protocol=ALIPAY,
        payment=payment,
        refund_no=REFUND_NO,
        refund_id="RSBX1",
        amount=D("1.00"),
        state=SandboxRefund.State.SUCCESS,
        scenario=PaymentScenario.REFUND_SUCCEED,
    )

    assert sandbox_alipay.refund_notify_build(refund, keys_for(ALIPAY)) is None


def test_the_notify_reply_is_exactly_success_when_accepted_and_failure_otherwise(offline_secrets):
    adapter, _ = offline_adapter(offline_secrets)

    accepted = adapter.notify_reply(accepted=True)
    refused = adapter.notify_reply(accepted=False)

    assert (accepted.status, accepted.content_type, accepted.body) == (200, "text/plain", b"success")
    assert refused.body == b"failure"


# --- Configuration ------------------------------------------------------------------------------


def environment_of(secrets: dict) -> dict[str, str]:
    return {
        "ALIPAY_APP_ID": secrets["app_id"],
        "ALIPAY_PRIVATE_KEY": secrets["app_private_key"],
        "ALIPAY_PUBLIC_KEY": secrets["alipay_public_key"],
        "ALIPAY_SELLER_ID": secrets["seller_id"],
    }


@pytest.fixture
def clean_environment(monkeypatch):
    for name in [*environment_of(sandbox_alipay.keys_generate()), "ALIPAY_GATEWAY"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_any_alipay_variable_there_is_no_configured_adapter(clean_environment):
    assert adapter_from_environment(read_timeout=5) is None


def test_with_every_alipay_variable_the_adapter_talks_to_alipays_gateway(clean_environment, offline_secrets):
    for name, value in environment_of(offline_secrets).items():
        clean_environment.setenv(name, value)
    # A PEM kept on one line with literal \n, as .env files often hold it.
    clean_environment.setenv("ALIPAY_PRIVATE_KEY", offline_secrets["app_private_key"].replace("\n", "\\n"))

    adapter = adapter_from_environment(read_timeout=5)

    assert isinstance(adapter, AlipayAdapter)
    assert adapter.gateway == GATEWAY
    assert (adapter.app_id, adapter.merchant_id) == (offline_secrets["app_id"], offline_secrets["seller_id"])


def test_keys_as_the_bare_base64_alipays_console_shows_are_accepted(clean_environment, offline_secrets):
    for name, value in environment_of(offline_secrets).items():
        clean_environment.setenv(name, value)
    bare = "".join(line for line in offline_secrets["alipay_public_key"].splitlines() if "-----" not in line)
    clean_environment.setenv("ALIPAY_PUBLIC_KEY", bare)
    clean_environment.setenv("ALIPAY_GATEWAY", "https://openapi-sandbox.dl.alipaydev.com/gateway.do")

    adapter = adapter_from_environment(read_timeout=5)

    assert adapter is not None
    assert adapter.gateway == "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


def test_some_alipay_variables_without_the_others_name_the_missing_ones_and_no_values(
    clean_environment, offline_secrets
):
    clean_environment.setenv("ALIPAY_APP_ID", offline_secrets["app_id"])
    clean_environment.setenv("ALIPAY_PRIVATE_KEY", offline_secrets["app_private_key"])

    with pytest.raises(ImproperlyConfigured) as raised:
        adapter_from_environment(read_timeout=5)

    message = str(raised.value)
    assert "ALIPAY_PUBLIC_KEY" in message and "ALIPAY_SELLER_ID" in message
    assert "ALIPAY_APP_ID" not in message
    assert offline_secrets["app_id"] not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALIPAY_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
        ("ALIPAY_PUBLIC_KEY", "not-base64-at-all!"),
        ("ALIPAY_SELLER_ID", "1234567890123456"),
        ("ALIPAY_APP_ID", "wx-not-an-app"),
        ("ALIPAY_GATEWAY", "openapi.alipay.com/gateway.do"),
    ],
)
def test_an_alipay_variable_that_does_not_parse_is_named_without_its_value(
    clean_environment, offline_secrets, name, value
):
    for variable, setting in environment_of(offline_secrets).items():
        clean_environment.setenv(variable, setting)
    clean_environment.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=name) as raised:
        adapter_from_environment(read_timeout=5)

    assert value not in str(raised.value)


def test_the_sandbox_adapter_posts_to_the_sandbox_gateway(offline_secrets):
    adapter = adapter_for_sandbox(offline_secrets, base_url="http://127.0.0.1:8000/sandbox/alipay/", read_timeout=2)

    assert adapter.gateway == "http://127.0.0.1:8000/sandbox/alipay/gateway.do"
