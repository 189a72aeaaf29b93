"""WeChat Pay v3 payments and refunds: signatures against the documented algorithm computed here
by hand, every adapter call against the sandbox over real HTTP, notifies of every kind, the
sandbox's scenarios, and the mapping of WeChat's answers onto the interface's outcomes."""

import base64
import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType, SimpleNamespace
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
from payments.channels.http import HttpResponse
from payments.channels.wechat_v3 import WechatV3Adapter, adapter_for_sandbox
from payments.channels.wechat_v3.tests.test_payouts import (
    authorization_fields,
    rsa_key_pair,
    sign_by_hand,
    verify_by_hand,
    wechatpay_headers_by_hand,
)
from payments.order_numbers import order_no_new
from payments.sandbox import payment_engine, tasks
from payments.sandbox import wechat_v3 as sandbox_v3
from payments.sandbox.keys import keys_for
from payments.sandbox.models import PaymentScenario, Protocol, SandboxPayment, SandboxRefund

D = Decimal
WECHAT = Protocol.WECHAT_V3
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOTIFY_URL = "https://wallet.example/api/v1/notify/wechat_v3/"
EXPIRES_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ORDER_NO = "PO20250101120000123456789"
REFUND_NO = "RF20250101120000123456789"
PREPAY_ID = "wx201410272009395522657a690389285100"
JSAPI, APP, H5, NATIVE = (
    PaymentMethod.WECHAT_JSAPI,
    PaymentMethod.WECHAT_APP,
    PaymentMethod.WECHAT_H5,
    PaymentMethod.WECHAT_NATIVE,
)


# --- The documented algorithm, written out here independently of the code under test ---------


def resource_by_hand(api_v3_key: str, plain: dict, associated_data: str) -> dict:
    nonce = "fdasflkja484"
    ciphertext = AESGCM(api_v3_key.encode()).encrypt(
        nonce.encode(), json.dumps(plain).encode(), associated_data.encode()
    )
    return {
        "original_type": associated_data,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_by_hand(api_v3_key: str, resource: dict) -> dict:
    plaintext = AESGCM(api_v3_key.encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode()
    )
    return json.loads(plaintext)


def notify_by_hand(secrets: dict, event: str, plain: dict, **kwargs) -> tuple[dict, bytes]:
    kind = "refund" if event.startswith("REFUND.") else "transaction"
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2025-01-01T12:00:05+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event,
        "summary": "支付成功",
        "resource": resource_by_hand(secrets["api_v3_key"], plain, kind),
    }
    body = json.dumps(envelope).encode()
    return wechatpay_headers_by_hand(secrets["platform_private_key"], secrets["platform_serial"], body, **kwargs), body


def transaction_by_hand(secrets: dict, **changes) -> dict:
    return {
        "appid": secrets["appid"],
        "mchid": secrets["mchid"],
        "out_trade_no": ORDER_NO,
        "transaction_id": "1217752501201407033233368018",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2025-01-01T12:00:03+08:00",
        "payer": {"openid": OPENID},
        "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY", "payer_currency": "CNY"},
        **changes,
    }


def refund_by_hand(secrets: dict, **changes) -> dict:
    return {
        "mchid": secrets["mchid"],
        "out_trade_no": ORDER_NO,
        "transaction_id": "1217752501201407033233368018",
        "out_refund_no": REFUND_NO,
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "success_time": "2025-01-01T13:00:00+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 1234, "refund": 500, "payer_total": 1234, "payer_refund": 500},
        **changes,
    }


def signed_answer(secrets: dict, status: int, payload: dict | None, *, timestamp: int | None = None) -> HttpResponse:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = wechatpay_headers_by_hand(
        secrets["platform_private_key"], secrets["platform_serial"], body, timestamp=timestamp
    )
    return HttpResponse(status=status, headers=headers, body=body)


# --- Fixtures --------------------------------------------------------------------------------


def payment_request(order_no: str = ORDER_NO, method: PaymentMethod = JSAPI, *, amount: str = "12.34", **extra):
    values = {
        "order_no": order_no,
        "amount": D(amount),
        "currency": "CNY",
        "subject": "钱包充值",
        "method": method,
        "notify_url": NOTIFY_URL,
        "expires_at": EXPIRES_AT,
        "client_ip": "203.0.113.7",
        "payer_id": OPENID if method == JSAPI else "",
        **extra,
    }
    return PaymentRequest(**values)


def refund_request(order_no: str = ORDER_NO, refund_no: str = REFUND_NO, *, amount: str = "5.00", total: str = "12.34"):
    return RefundRequest(
        refund_no=refund_no,
        order_no=order_no,
        transaction_id="",
        amount=D(amount),
        total_amount=D(total),
        currency="CNY",
        reason="用户申请退款",
        notify_url=NOTIFY_URL,
    )


class ChannelRecorder:
    """Stands in for WeChat's servers where the sandbox cannot play the answer: records what
    was sent and answers ``responses`` in turn (the last one again and again)."""

    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.sent: list[dict] = []

    def send(self, method: str, path: str, *, body: bytes = b"", headers) -> HttpResponse:
        self.sent.append({"method": method, "path": path, "body": body, "headers": dict(headers)})
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


@pytest.fixture(scope="module")
def offline_secrets() -> dict:
    """Keys for tests that never reach the sandbox's database."""
    return sandbox_v3.keys_generate()


def offline_adapter(secrets: dict, *responses: HttpResponse) -> tuple[WechatV3Adapter, ChannelRecorder]:
    adapter = adapter_for_sandbox(secrets, base_url="https://api.mch.weixin.qq.com", read_timeout=1)
    recorder = ChannelRecorder(*responses)
    adapter.http = recorder  # type: ignore[assignment]
    return adapter, recorder


@pytest.fixture
def sandbox(live_server, monkeypatch, sent_tasks):
    """The sandbox's keys and a factory of adapters pointed at it over real HTTP. The payment and
    refund notifies the sandbox schedules are recorded instead of reaching a broker no worker
    reads; ``deliveries`` holds what a task run here would have POSTed."""
    secrets = keys_for(WECHAT)
    notifies = sent_tasks.named(payment_engine.PAYMENT_NOTIFY_TASK)
    refund_notifies = sent_tasks.named(payment_engine.REFUND_NOTIFY_TASK)
    deliveries: list[tuple[dict, bytes]] = []

    def deliver(protocol: ModuleType, url: str, built: tuple[dict, bytes], reference: str) -> bool:
        deliveries.append(built)
        return True

    monkeypatch.setattr(tasks, "_deliver", deliver)

    def adapter(**overrides: str) -> WechatV3Adapter:
        return adapter_for_sandbox(
            {**secrets, **overrides}, base_url=f"{live_server.url}/sandbox/wechat_v3", read_timeout=5
        )

    return SimpleNamespace(
        secrets=secrets,
        adapter=adapter,
        url=f"{live_server.url}/sandbox/wechat_v3",
        cashier=f"{live_server.url}/sandbox/cashier/wechat_v3",
        notifies=notifies,
        refund_notifies=refund_notifies,
        deliveries=deliveries,
    )


def scenario(order_no: str, name: PaymentScenario, **kwargs) -> None:
    payment_engine.payment_rule_add(protocol=WECHAT, scenario=name, order_no=order_no, **kwargs)


# --- Vectors ---------------------------------------------------------------------------------


def test_a_jsapi_prepay_is_signed_as_documented_and_carries_the_order_in_fen_for_the_payer(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, {"prepay_id": PREPAY_ID}))

    start = adapter.payment_create(payment_request())

    sent = recorder.sent[0]
    fields = authorization_fields(sent["headers"]["Authorization"])
    path = "/v3/pay/transactions/jsapi"
    message = f"POST\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode() + sent["body"] + b"\n"
    verify_by_hand(offline_secrets["merchant_public_key"], message, fields["signature"])
    assert (sent["method"], sent["path"]) == ("POST", path)
    assert (fields["mchid"], fields["serial_no"]) == (offline_secrets["mchid"], offline_secrets["merchant_serial"])
    assert json.loads(sent["body"]) == {
        "appid": offline_secrets["appid"],
        "mchid": offline_secrets["mchid"],
        "description": "钱包充值",
        "out_trade_no": ORDER_NO,
        "time_expire": "2030-01-01T20:00:00+08:00",
        "notify_url": NOTIFY_URL,
        "amount": {"total": 1234, "currency": "CNY"},
        "payer": {"openid": OPENID},
        "scene_info": {"payer_client_ip": "203.0.113.7"},
    }
    assert start.prepay_id == PREPAY_ID
    assert start.raw == {"prepay_id": PREPAY_ID}


def test_the_jsapi_parameters_are_signed_over_app_id_timestamp_nonce_and_package(offline_secrets):
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, {"prepay_id": PREPAY_ID}))

    params = adapter.payment_create(payment_request()).app_params

    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == offline_secrets["appid"]
    assert params["package"] == f"prepay_id={PREPAY_ID}"
    assert params["signType"] == "RSA"
    assert abs(int(params["timeStamp"]) - time.time()) < 60
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    verify_by_hand(offline_secrets["merchant_public_key"], message, params["paySign"])


def test_the_app_parameters_are_signed_over_appid_timestamp_noncestr_and_prepayid(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, {"prepay_id": PREPAY_ID}))

    params = adapter.payment_create(payment_request(method=APP)).app_params

    assert recorder.sent[0]["path"] == "/v3/pay/transactions/app"
    assert "payer" not in json.loads(recorder.sent[0]["body"])
    assert set(params) == {"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"}
    assert (params["appid"], params["partnerid"]) == (offline_secrets["appid"], offline_secrets["mchid"])
    assert (params["prepayid"], params["package"]) == (PREPAY_ID, "Sign=WXPay")
    message = f"{params['appid']}\n{params['timestamp']}\n{params['noncestr']}\n{params['prepayid']}\n".encode()
    verify_by_hand(offline_secrets["merchant_public_key"], message, params["sign"])


def test_an_h5_prepay_carries_the_wap_scene_and_sends_the_payer_back_to_the_return_url(offline_secrets):
    h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1037687096"
    adapter, recorder = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, {"h5_url": h5_url}))

    start = adapter.payment_create(payment_request(method=H5, return_url="https://wallet.example/paid?o=1"))

    assert recorder.sent[0]["path"] == "/v3/pay/transactions/h5"
    assert json.loads(recorder.sent[0]["body"])["scene_info"] == {
        "payer_client_ip": "203.0.113.7",
        "h5_info": {"type": "Wap"},
    }
    assert start.pay_url == f"{h5_url}&redirect_url=https%3A%2F%2Fwallet.example%2Fpaid%3Fo%3D1"


def test_a_native_prepay_gives_the_code_url_to_show_as_a_qr_code(offline_secrets):
    answer = {"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}
    adapter, recorder = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, answer))

    start = adapter.payment_create(payment_request(method=NATIVE, client_ip=""))

    assert recorder.sent[0]["path"] == "/v3/pay/transactions/native"
    assert "scene_info" not in json.loads(recorder.sent[0]["body"])
    assert start.code_url == "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"


def test_a_query_signs_the_get_with_the_mchid_in_the_query_string_and_an_empty_body(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=502, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.payment_query(ORDER_NO)

    sent = recorder.sent[0]
    path = f"/v3/pay/transactions/out-trade-no/{ORDER_NO}?mchid={offline_secrets['mchid']}"
    fields = authorization_fields(sent["headers"]["Authorization"])
    assert (sent["method"], sent["path"]) == ("GET", path)
    verify_by_hand(
        offline_secrets["merchant_public_key"],
        f"GET\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n\n".encode(),
        fields["signature"],
    )


def test_a_close_and_a_refund_send_what_wechat_documents(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.payment_close(ORDER_NO, expires_at=EXPIRES_AT)
    with pytest.raises(UnknownOutcome):
        adapter.refund_create(refund_request())
    with pytest.raises(UnknownOutcome):
        adapter.refund_query(REFUND_NO, order_no=ORDER_NO)

    close, refund, query = recorder.sent
    assert (close["path"], json.loads(close["body"])) == (
        f"/v3/pay/transactions/out-trade-no/{ORDER_NO}/close",
        {"mchid": offline_secrets["mchid"]},
    )
    assert refund["path"] == "/v3/refund/domestic/refunds"
    assert json.loads(refund["body"]) == {
        "out_trade_no": ORDER_NO,
        "out_refund_no": REFUND_NO,
        "reason": "用户申请退款",
        "notify_url": NOTIFY_URL,
        "amount": {"refund": 500, "total": 1234, "currency": "CNY"},
    }
    assert (query["method"], query["path"]) == ("GET", f"/v3/refund/domestic/refunds/{REFUND_NO}")


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(payment_request(payer_id=""), id="jsapi-without-openid"),
        pytest.param(payment_request(method=H5, client_ip=""), id="h5-without-client-ip"),
        pytest.param(payment_request(amount="1.234"), id="three-decimals"),
        pytest.param(payment_request(currency="USD"), id="not-cny"),
        pytest.param(payment_request(method=PaymentMethod.ALIPAY_APP), id="not-a-wechat-method"),
        pytest.param(payment_request(expires_at=datetime(2030, 1, 1, 12)), id="naive-expiry"),  # noqa: DTZ001
    ],
)
def test_a_payment_the_channel_could_only_refuse_never_leaves(offline_secrets, request_):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(ValueError):
        adapter.payment_create(request_)

    assert recorder.sent == []


def test_a_payment_notify_built_by_hand_is_a_paid_status_with_everything_the_core_compares(offline_secrets):
    headers, body = notify_by_hand(offline_secrets, "TRANSACTION.SUCCESS", transaction_by_hand(offline_secrets))
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    status = adapter.parse_notify(headers={name.lower(): value for name, value in headers.items()}, body=body)

    assert isinstance(status, PaymentStatus)
    assert (status.order_no, status.state, status.amount, status.currency) == (
        ORDER_NO,
        PaymentState.PAID,
        D("12.34"),
        "CNY",
    )
    assert (status.app_id, status.merchant_id) == (offline_secrets["appid"], offline_secrets["mchid"])
    assert status.transaction_id == "1217752501201407033233368018"
    assert status.paid_at == datetime(2025, 1, 1, 4, 0, 3, tzinfo=UTC)
    assert status.raw["out_trade_no"] == ORDER_NO


@pytest.mark.parametrize(
    ("event", "refund_status", "expected"),
    [
        ("REFUND.SUCCESS", "SUCCESS", (RefundState.SUCCESS, "")),
        ("REFUND.ABNORMAL", "ABNORMAL", (RefundState.PROCESSING, "ABNORMAL")),  # the merchant finishes it by hand
        ("REFUND.CLOSED", "CLOSED", (RefundState.FAILED, "CLOSED")),
    ],
)
def test_a_refund_notify_built_by_hand_is_a_refund_status(offline_secrets, event, refund_status, expected):
    plain = refund_by_hand(offline_secrets, refund_status=refund_status)
    headers, body = notify_by_hand(offline_secrets, event, plain)
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    status = adapter.parse_notify(headers=headers, body=body)

    assert isinstance(status, RefundStatus)
    assert (status.state, status.code) == expected
    assert (status.refund_no, status.order_no, status.amount) == (REFUND_NO, ORDER_NO, D("5.00"))
    assert status.refund_id == "50000000382019052709732678859"


def test_the_adapter_names_its_merchant_and_app(offline_secrets):
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    assert (adapter.merchant_id, adapter.app_id) == (offline_secrets["mchid"], offline_secrets["appid"])


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_takes_a_prepay_signed_by_hand_and_signs_its_answer_with_the_platform_key(sandbox):
    secrets = sandbox.secrets
    order_no = order_no_new("PO")
    body = json.dumps(
        {
            "appid": secrets["appid"],
            "mchid": secrets["mchid"],
            "description": "充值",
            "out_trade_no": order_no,
            "time_expire": "2030-01-01T20:00:00+08:00",
            "notify_url": NOTIFY_URL,
            "amount": {"total": 500, "currency": "CNY"},
        }
    ).encode()
    stamp, nonce = str(int(time.time())), "593BEC0C930BF1AFEB40B4A08C8FB242"
    path = "/sandbox/wechat_v3/v3/pay/transactions/native"
    signature = sign_by_hand(
        secrets["merchant_private_key"], f"POST\n{path}\n{stamp}\n{nonce}\n".encode() + body + b"\n"
    )
    authorization = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{secrets["mchid"]}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{secrets["merchant_serial"]}"'
    )

    response = requests.post(
        f"{sandbox.url}/v3/pay/transactions/native",
        data=body,
        headers={"Authorization": authorization, "Content-Type": "application/json", "Accept": "application/json"},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    headers = response.headers
    verify_by_hand(
        secrets["platform_public_key"],
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + response.content + b"\n",
        headers["Wechatpay-Signature"],
    )
    assert headers["Wechatpay-Serial"] == secrets["platform_serial"]
    assert response.json() == {"code_url": f"{sandbox.cashier}/{order_no}/"}
    payment = SandboxPayment.objects.get(protocol=WECHAT, order_no=order_no)
    assert (payment.amount, payment.method, payment.notify_url) == (D("5.00"), "NATIVE", NOTIFY_URL)


@pytest.mark.django_db
def test_the_sandbox_payment_notify_decrypts_by_hand_and_is_signed_by_the_platform():
    secrets = keys_for(WECHAT)
    payment = SandboxPayment.objects.create(
        protocol=WECHAT,
        order_no=ORDER_NO,
        transaction_id="TSBX000000000000000000000001",
        amount=D("12.34"),
        subject="钱包充值",
        method="JSAPI",
        payer_masked="oUp***S6o",
        state=SandboxPayment.State.PAID,
        scenario=PaymentScenario.PAY_NOW,
        paid_at=datetime(2025, 1, 1, 4, 0, 3, tzinfo=UTC),
    )

    headers, body = sandbox_v3.payment_notify_build(payment, secrets, amount=D("12.34"), forged=False)

    verify_by_hand(
        secrets["platform_public_key"],
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n",
        headers["Wechatpay-Signature"],
    )
    envelope = json.loads(body)
    assert (envelope["event_type"], envelope["resource_type"]) == ("TRANSACTION.SUCCESS", "encrypt-resource")
    assert envelope["resource"]["original_type"] == envelope["resource"]["associated_data"] == "transaction"
    transaction = decrypt_by_hand(secrets["api_v3_key"], envelope["resource"])
    assert transaction == {
        "appid": secrets["appid"],
        "mchid": secrets["mchid"],
        "out_trade_no": ORDER_NO,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "attach": "",
        "transaction_id": "TSBX000000000000000000000001",
        "bank_type": "OTHERS",
        "success_time": "2025-01-01T12:00:03+08:00",
        "payer": {"openid": "oUp***S6o"},
        "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY", "payer_currency": "CNY"},
    }


# --- Round trips with the sandbox over real HTTP ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "trade_type"), [(JSAPI, "JSAPI"), (APP, "APP"), (H5, "MWEB"), (NATIVE, "NATIVE")], ids=str
)
def test_the_sandbox_opens_a_payment_for_each_method(sandbox, method, trade_type):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)

    start = sandbox.adapter().payment_create(payment_request(order_no, method))

    payment = SandboxPayment.objects.get(protocol=WECHAT, order_no=order_no)
    assert (payment.method, payment.amount, payment.subject) == (trade_type, D("12.34"), "钱包充值")
    assert payment.state == SandboxPayment.State.NOT_PAID
    cashier = f"{sandbox.cashier}/{order_no}/"
    if method == NATIVE:
        assert start.code_url == cashier
    elif method == H5:
        assert start.pay_url == cashier
    else:
        assert start.prepay_id == f"wx{payment.transaction_id.lower()}"
        assert start.app_params
    if method == JSAPI:
        assert payment.payer_masked == "oUp***S6o"


@pytest.mark.django_db(transaction=True)
def test_the_same_prepay_twice_gets_the_same_prepay_id_and_one_payment(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()

    first = adapter.payment_create(payment_request(order_no))
    second = adapter.payment_create(payment_request(order_no))

    assert first.prepay_id == second.prepay_id
    assert SandboxPayment.objects.get(protocol=WECHAT, order_no=order_no).requests == 2


@pytest.mark.django_db(transaction=True)
def test_an_order_number_reused_for_another_amount_is_refused_with_invalid_request(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    with pytest.raises(PaymentRefused) as refused:
        adapter.payment_create(payment_request(order_no, amount="99.00"))

    assert refused.value.code == "INVALID_REQUEST"
    assert SandboxPayment.objects.get(protocol=WECHAT, order_no=order_no).amount == D("12.34")


@pytest.mark.django_db(transaction=True)
def test_a_prepay_for_an_app_of_another_merchant_is_refused_and_opens_nothing(sandbox):
    order_no = order_no_new("PO")

    with pytest.raises(PaymentRefused) as refused:
        sandbox.adapter(appid="wx0000000000000000").payment_create(payment_request(order_no))

    assert refused.value.code == "APPID_MCHID_NOT_MATCH"
    assert not SandboxPayment.objects.filter(order_no=order_no).exists()


@pytest.mark.django_db(transaction=True)
def test_requests_signed_with_a_wrong_merchant_key_are_refused_with_sign_error_and_change_nothing(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    sandbox.adapter().payment_create(payment_request(order_no))
    stranger_private, _ = rsa_key_pair()
    impostor = sandbox.adapter(merchant_private_key=stranger_private)

    with pytest.raises(PaymentRefused) as refused:
        impostor.payment_create(payment_request(order_no_new("PO")))
    with pytest.raises(UnknownOutcome):
        impostor.payment_query(order_no)
    with pytest.raises(RetryableError):
        impostor.payment_close(order_no, expires_at=EXPIRES_AT)
    refund = impostor.refund_create(refund_request(order_no, order_no_new("RF")))

    assert refused.value.code == "SIGN_ERROR"
    assert (refund.state, refund.code) == (RefundState.FAILED, "SIGN_ERROR")
    assert SandboxPayment.objects.get(order_no=order_no).state == SandboxPayment.State.NOT_PAID
    assert SandboxPayment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_paid_payment_queries_as_paid_with_its_transaction_amount_and_ids(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    status = adapter.payment_query(order_no)

    payment = SandboxPayment.objects.get(protocol=WECHAT, order_no=order_no)
    assert (status.state, status.amount, status.currency) == (PaymentState.PAID, D("12.34"), "CNY")
    assert (status.app_id, status.merchant_id) == (sandbox.secrets["appid"], sandbox.secrets["mchid"])
    assert status.transaction_id == payment.transaction_id
    assert payment.paid_at is not None
    assert status.paid_at == payment.paid_at.replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_an_unpaid_payment_queries_as_not_paid_and_one_never_opened_as_not_found(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    unpaid = adapter.payment_query(order_no)
    unknown = adapter.payment_query(order_no_new("PO"))

    assert (unpaid.state, unpaid.code, unpaid.amount, unpaid.transaction_id) == (
        PaymentState.NOT_PAID,
        "NOTPAY",
        D("12.34"),
        "",
    )
    assert (unknown.state, unknown.code) == (PaymentState.NOT_FOUND, "ORDER_NOT_EXIST")


@pytest.mark.django_db(transaction=True)
def test_closing_an_unpaid_payment_closes_it_for_good(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    closed = adapter.payment_close(order_no, expires_at=EXPIRES_AT)
    queried = adapter.payment_query(order_no)
    closed_again = adapter.payment_close(order_no, expires_at=EXPIRES_AT)
    with pytest.raises(PaymentRefused) as refused:
        adapter.payment_create(payment_request(order_no))

    assert closed.state == queried.state == closed_again.state == PaymentState.CLOSED
    assert (closed.app_id, closed.merchant_id) == (sandbox.secrets["appid"], sandbox.secrets["mchid"])
    assert refused.value.code == "ORDER_CLOSED"
    assert SandboxPayment.objects.get(order_no=order_no).state == SandboxPayment.State.CLOSED


@pytest.mark.django_db(transaction=True)
def test_closing_an_order_the_sandbox_never_had_is_closed(sandbox):
    status = sandbox.adapter().payment_close(order_no_new("PO"), expires_at=EXPIRES_AT)

    assert (status.state, status.code) == (PaymentState.CLOSED, "ORDER_NOT_EXIST")


@pytest.mark.django_db(transaction=True)
def test_closing_a_paid_payment_is_paid_with_the_details_of_the_query(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    status = adapter.payment_close(order_no, expires_at=EXPIRES_AT)

    payment = SandboxPayment.objects.get(order_no=order_no)
    assert (status.state, status.amount, status.transaction_id) == (
        PaymentState.PAID,
        D("12.34"),
        payment.transaction_id,
    )
    assert payment.state == SandboxPayment.State.PAID


@pytest.mark.django_db(transaction=True)
def test_a_prepay_of_an_order_paid_meanwhile_is_unknown_so_that_it_gets_queried(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    with pytest.raises(UnknownOutcome) as unknown:
        adapter.payment_create(payment_request(order_no))

    assert unknown.value.code == "ORDERPAID"


@pytest.mark.django_db(transaction=True)
def test_a_refund_succeeds_at_once_queries_the_same_and_the_payment_still_queries_paid(sandbox):
    order_no = order_no_new("PO")
    refund_no = order_no_new("RF")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    refund = adapter.refund_create(refund_request(order_no, refund_no))
    queried = adapter.refund_query(refund_no, order_no=order_no)
    payment = adapter.payment_query(order_no)

    taken = SandboxRefund.objects.get(refund_no=refund_no)
    assert (refund.state, refund.amount, refund.refund_id) == (RefundState.SUCCESS, D("5.00"), taken.refund_id)
    assert (queried.state, queried.refund_id, queried.order_no) == (RefundState.SUCCESS, taken.refund_id, order_no)
    assert (payment.state, payment.raw["trade_state"]) == (PaymentState.PAID, "REFUND")


@pytest.mark.django_db(transaction=True)
def test_a_refund_sent_twice_is_one_refund(sandbox):
    order_no, refund_no = order_no_new("PO"), order_no_new("RF")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    first = adapter.refund_create(refund_request(order_no, refund_no))
    second = adapter.refund_create(refund_request(order_no, refund_no))

    assert first.refund_id == second.refund_id
    assert SandboxRefund.objects.get(refund_no=refund_no).requests == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("paid", "refund", "code"),
    [
        pytest.param(True, {"order_no": "PO20990101000000000000001"}, "RESOURCE_NOT_EXISTS", id="unknown-order"),
        pytest.param(False, {}, "RESOURCE_NOT_EXISTS", id="unpaid-order"),
        pytest.param(True, {"amount": "12.35"}, "PARAM_ERROR", id="more-than-paid"),
        pytest.param(True, {"total": "99.00"}, "PARAM_ERROR", id="wrong-total"),
    ],
)
def test_a_refund_the_sandbox_refuses_is_failed_with_wechats_code(sandbox, paid, refund, code):
    order_no = order_no_new("PO")
    if not paid:
        scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    status = adapter.refund_create(refund_request(**{"order_no": order_no, "refund_no": order_no_new("RF"), **refund}))

    assert (status.state, status.code) == (RefundState.FAILED, code)
    assert not SandboxRefund.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_refund_over_what_is_left_to_refund_is_unknown_and_the_query_finds_no_such_refund(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))
    adapter.refund_create(refund_request(order_no, order_no_new("RF"), amount="10.00"))
    over_no = order_no_new("RF")

    with pytest.raises(UnknownOutcome) as raised:
        adapter.refund_create(refund_request(order_no, over_no, amount="5.00"))

    assert raised.value.code == "INVALID_REQUEST"  # WeChat has no more definite code for it
    assert adapter.refund_query(over_no, order_no=order_no).state == RefundState.NOT_FOUND


@pytest.mark.django_db(transaction=True)
def test_a_refund_number_reused_for_another_amount_is_unknown_and_the_first_refund_stands(sandbox):
    order_no, refund_no = order_no_new("PO"), order_no_new("RF")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))
    adapter.refund_create(refund_request(order_no, refund_no))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.refund_create(refund_request(order_no, refund_no, amount="6.00"))

    assert raised.value.code == "INVALID_REQUEST"
    queried = adapter.refund_query(refund_no, order_no=order_no)
    assert (queried.state, queried.amount) == (RefundState.SUCCESS, D("5.00"))


@pytest.mark.django_db(transaction=True)
def test_a_refund_query_of_a_refund_never_asked_for_is_not_found(sandbox):
    status = sandbox.adapter().refund_query(order_no_new("RF"), order_no=ORDER_NO)

    assert (status.state, status.code) == (RefundState.NOT_FOUND, "RESOURCE_NOT_EXISTS")


@pytest.mark.django_db(transaction=True)
def test_an_answer_signed_by_another_platform_key_is_unknown_never_paid_or_closed(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    _, stranger_public = rsa_key_pair()
    misled = sandbox.adapter(platform_public_key=stranger_public)

    with pytest.raises(UnknownOutcome, match="not verified"):
        misled.payment_create(payment_request(order_no))
    with pytest.raises(UnknownOutcome, match="not verified"):
        misled.payment_query(order_no)
    with pytest.raises(UnknownOutcome, match="not verified"):
        misled.payment_close(order_no, expires_at=EXPIRES_AT)


# --- Scenarios and their notifies ---------------------------------------------------------------


def assert_paid_notice(adapter: WechatV3Adapter, built: tuple[dict, bytes], payment: SandboxPayment, amount: str):
    status = adapter.parse_notify(headers=built[0], body=built[1])
    assert isinstance(status, PaymentStatus)
    assert (status.order_no, status.state, status.amount) == (payment.order_no, PaymentState.PAID, D(amount))
    assert (status.transaction_id, status.app_id, status.merchant_id) == (
        payment.transaction_id,
        adapter.app_id,
        adapter.merchant_id,
    )


@pytest.mark.django_db(transaction=True)
def test_pay_now_pays_at_once_and_notifies_once(sandbox):
    order_no = order_no_new("PO")
    adapter = sandbox.adapter()

    adapter.payment_create(payment_request(order_no))
    tasks.sandbox_payment_notify(SandboxPayment.objects.get(order_no=order_no).pk, "genuine")

    payment = SandboxPayment.objects.get(order_no=order_no)
    assert payment.state == SandboxPayment.State.PAID
    assert sandbox.notifies == [{"args": [payment.pk, "genuine"], "countdown": 0.0}]
    assert_paid_notice(adapter, sandbox.deliveries[0], payment, "12.34")


@pytest.mark.django_db(transaction=True)
def test_pay_late_is_unpaid_until_the_delay_then_paid_and_notified(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.PAY_LATE, delay_seconds=30)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))
    before = adapter.payment_query(order_no)
    payment = SandboxPayment.objects.get(order_no=order_no)

    tasks.sandbox_payment_notify(payment.pk, "genuine")

    payment.refresh_from_db()
    assert before.state == PaymentState.NOT_PAID
    assert sandbox.notifies == [{"args": [payment.pk, "genuine"], "countdown": 30.0}]
    assert adapter.payment_query(order_no).state == PaymentState.PAID
    assert_paid_notice(adapter, sandbox.deliveries[0], payment, "12.34")


@pytest.mark.django_db(transaction=True)
def test_never_pay_stays_unpaid_without_notify_until_the_payer_pays_at_the_cashier(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.NEVER_PAY)
    adapter = sandbox.adapter()
    start = adapter.payment_create(payment_request(order_no, NATIVE))
    unpaid = adapter.payment_query(order_no)

    response = requests.post(start.code_url, timeout=10)

    assert unpaid.state == PaymentState.NOT_PAID
    assert response.status_code == 200
    payment = SandboxPayment.objects.get(order_no=order_no)
    assert sandbox.notifies == [{"args": [payment.pk, "genuine"], "countdown": 0.0}]
    assert adapter.payment_query(order_no).state == PaymentState.PAID


@pytest.mark.django_db(transaction=True)
def test_duplicate_notify_sends_the_same_genuine_notify_three_times(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.DUPLICATE_NOTIFY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))
    payment = SandboxPayment.objects.get(order_no=order_no)

    for notify in sandbox.notifies:
        tasks.sandbox_payment_notify(*notify["args"])

    assert len(sandbox.notifies) == 3
    assert len(sandbox.deliveries) == 3
    for built in sandbox.deliveries:
        assert_paid_notice(adapter, built, payment, "12.34")


@pytest.mark.django_db(transaction=True)
def test_wrong_amount_notify_is_genuinely_signed_but_claims_another_amount(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.WRONG_AMOUNT_NOTIFY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    tasks.sandbox_payment_notify(*sandbox.notifies[0]["args"])

    payment = SandboxPayment.objects.get(order_no=order_no)
    assert sandbox.notifies[0]["args"] == [payment.pk, "wrong_amount"]
    assert_paid_notice(adapter, sandbox.deliveries[0], payment, "13.34")


@pytest.mark.django_db(transaction=True)
def test_bad_signature_notify_is_rejected(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.BAD_SIGNATURE_NOTIFY)
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))

    tasks.sandbox_payment_notify(*sandbox.notifies[0]["args"])

    headers, body = sandbox.deliveries[0]
    with pytest.raises(NotifyRejected, match="not genuine"):
        adapter.parse_notify(headers=headers, body=body)


@pytest.mark.django_db(transaction=True)
def test_paid_without_notify_is_found_paid_only_by_a_query(sandbox):
    order_no = order_no_new("PO")
    scenario(order_no, PaymentScenario.PAID_WITHOUT_NOTIFY)
    adapter = sandbox.adapter()

    adapter.payment_create(payment_request(order_no))

    assert sandbox.notifies == []
    assert adapter.payment_query(order_no).state == PaymentState.PAID


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "answered", "final", "event", "expected"),
    [
        (PaymentScenario.REFUND_SUCCEED, RefundState.SUCCESS, "success", "REFUND.SUCCESS", (RefundState.SUCCESS, "")),
        (
            PaymentScenario.REFUND_PROCESS,
            RefundState.PROCESSING,
            "success",
            "REFUND.SUCCESS",
            (RefundState.SUCCESS, ""),
        ),
        (
            PaymentScenario.REFUND_FAIL,
            RefundState.PROCESSING,
            "failed",
            "REFUND.CLOSED",
            (RefundState.FAILED, "CLOSED"),
        ),
    ],
)
def test_refund_scenarios_answer_settle_and_notify_as_told(sandbox, name, answered, final, event, expected):
    order_no, refund_no = order_no_new("PO"), order_no_new("RF")
    adapter = sandbox.adapter()
    adapter.payment_create(payment_request(order_no))
    scenario(order_no, name)

    refund = adapter.refund_create(refund_request(order_no, refund_no))
    tasks.sandbox_refund_notify(*sandbox.refund_notifies[0]["args"])

    taken = SandboxRefund.objects.get(refund_no=refund_no)
    assert refund.state == answered
    assert sandbox.refund_notifies[0]["args"] == [taken.pk, final]
    headers, body = sandbox.deliveries[0]
    assert json.loads(body)["event_type"] == event
    notice = adapter.parse_notify(headers=headers, body=body)
    assert isinstance(notice, RefundStatus)
    assert (notice.state, notice.code) == expected
    assert (notice.refund_no, notice.order_no, notice.amount, notice.refund_id) == (
        refund_no,
        order_no,
        D("5.00"),
        taken.refund_id,
    )
    queried = adapter.refund_query(refund_no, order_no=order_no)
    assert (queried.state, queried.code) == expected


@pytest.mark.django_db
def test_a_processing_refund_is_not_notified():
    payment = SandboxPayment.objects.create(
        protocol=WECHAT,
        order_no=ORDER_NO,
        transaction_id="TSBX000000000000000000000002",
        amount=D("12.34"),
        subject="钱包充值",
        method="APP",
        state=SandboxPayment.State.PAID,
        scenario=PaymentScenario.PAY_NOW,
    )
    refund = SandboxRefund.objects.create(
        protocol=WECHAT,
        payment=payment,
        refund_no=REFUND_NO,
        refund_id="RSBX000000000000000000000001",
        amount=D("5.00"),
        state=SandboxRefund.State.PROCESSING,
        scenario=PaymentScenario.REFUND_PROCESS,
    )

    assert sandbox_v3.refund_notify_build(refund, keys_for(WECHAT)) is None


# --- Notifies that are not genuine or not ours -------------------------------------------------


def tampered_body(secrets):
    headers, body = notify_by_hand(secrets, "TRANSACTION.SUCCESS", transaction_by_hand(secrets))
    return headers, json.dumps({**json.loads(body), "summary": "退款成功"}).encode()


def signed_by_a_stranger(secrets):
    stranger_private, _ = rsa_key_pair()
    return notify_by_hand(
        {**secrets, "platform_private_key": stranger_private}, "TRANSACTION.SUCCESS", transaction_by_hand(secrets)
    )


def unknown_serial(secrets):
    return notify_by_hand(
        {**secrets, "platform_serial": "PUB_KEY_ID_0000000000"}, "TRANSACTION.SUCCESS", transaction_by_hand(secrets)
    )


def stale(secrets):
    return notify_by_hand(
        secrets, "TRANSACTION.SUCCESS", transaction_by_hand(secrets), timestamp=int(time.time()) - 600
    )


def under_another_api_v3_key(secrets):
    return notify_by_hand({**secrets, "api_v3_key": "k" * 32}, "TRANSACTION.SUCCESS", transaction_by_hand(secrets))


def payment_of_another_merchant(secrets):
    return notify_by_hand(secrets, "TRANSACTION.SUCCESS", transaction_by_hand(secrets, mchid="1900000001"))


def payment_of_another_app(secrets):
    return notify_by_hand(secrets, "TRANSACTION.SUCCESS", transaction_by_hand(secrets, appid="wx0000000000000000"))


def refund_of_another_merchant(secrets):
    return notify_by_hand(secrets, "REFUND.SUCCESS", refund_by_hand(secrets, mchid="1900000001"))


def payment_without_order_number(secrets):
    transaction = transaction_by_hand(secrets)
    del transaction["out_trade_no"]
    return notify_by_hand(secrets, "TRANSACTION.SUCCESS", transaction)


def an_event_we_do_not_take(secrets):
    return notify_by_hand(secrets, "TRANSACTION.CLOSED", transaction_by_hand(secrets))


@pytest.mark.parametrize(
    "forge",
    [
        tampered_body,
        signed_by_a_stranger,
        unknown_serial,
        stale,
        under_another_api_v3_key,
        payment_of_another_merchant,
        payment_of_another_app,
        refund_of_another_merchant,
        payment_without_order_number,
        an_event_we_do_not_take,
    ],
)
def test_a_notify_that_is_not_genuine_or_not_ours_is_rejected(offline_secrets, forge):
    headers, body = forge(offline_secrets)
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(NotifyRejected):
        adapter.parse_notify(headers=headers, body=body)


def test_a_payment_notify_is_no_payout_notice(offline_secrets):
    headers, body = notify_by_hand(offline_secrets, "TRANSACTION.SUCCESS", transaction_by_hand(offline_secrets))
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(NotifyRejected, match="transfer bill"):
        adapter.parse_payout_notify(headers=headers, body=body)


# --- Answers the sandbox does not play, signed here with the platform key -----------------------


def transaction_answer(secrets: dict, trade_state: str, **changes) -> dict:
    answer = transaction_by_hand(secrets, trade_state=trade_state, **changes)
    if trade_state not in ("SUCCESS", "REFUND"):
        for paid_only in ("transaction_id", "success_time", "payer", "bank_type"):
            answer.pop(paid_only)
    return answer


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        pytest.param(400, {"code": "PARAM_ERROR", "message": "参数错误"}, PaymentRefused, id="param-error"),
        pytest.param(400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}, PaymentRefused, id="reused"),
        pytest.param(403, {"code": "NO_AUTH", "message": "商户无权限"}, PaymentRefused, id="no-auth"),
        pytest.param(400, {"code": "ORDER_CLOSED", "message": "订单已关闭"}, PaymentRefused, id="closed"),
        pytest.param(400, {"code": "ORDERPAID", "message": "该订单已支付"}, UnknownOutcome, id="paid"),
        pytest.param(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, RetryableError, id="frequency"),
        pytest.param(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="500"),
        pytest.param(400, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="system-error"),
        pytest.param(200, {"code_url": "weixin://wxpay/bizpayurl?pr=x"}, UnknownOutcome, id="no-prepay-id"),
    ],
)
def test_prepay_answers_map_onto_refused_retryable_or_unknown(offline_secrets, status, payload, expected):
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, status, payload))

    with pytest.raises(expected) as raised:
        adapter.payment_create(payment_request())

    assert raised.value.code == (payload.get("code", "") if status < 500 else f"HTTP_{status}")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            lambda s: HttpResponse(status=200, headers={}, body=b'{"prepay_id":"wx1"}'), "not verified", id="unsigned"
        ),
        pytest.param(
            lambda s: signed_answer(s, 200, {"prepay_id": "wx1"}, timestamp=int(time.time()) - 301),
            "not verified",
            id="stale",
        ),
        pytest.param(
            lambda s: HttpResponse(
                status=200, headers=signed_answer(s, 200, {"prepay_id": "wx1"}).headers, body=b'{"prepay_id":"wx2"}'
            ),
            "not verified",
            id="tampered",
        ),
    ],
)
def test_a_prepay_answer_that_does_not_verify_is_unknown(offline_secrets, answer, expected):
    adapter, _ = offline_adapter(offline_secrets, answer(offline_secrets))

    with pytest.raises(UnknownOutcome, match=expected):
        adapter.payment_create(payment_request())


@pytest.mark.parametrize(
    ("trade_state", "expected"),
    [
        ("SUCCESS", PaymentState.PAID),
        ("REFUND", PaymentState.PAID),
        ("NOTPAY", PaymentState.NOT_PAID),
        ("USERPAYING", PaymentState.NOT_PAID),
        ("CLOSED", PaymentState.CLOSED),
        ("REVOKED", PaymentState.CLOSED),
        ("PAYERROR", PaymentState.NOT_PAID),  # one failed attempt: the order can still be paid or closed
        ("A_STATE_ADDED_LATER", PaymentState.NOT_PAID),
    ],
)
def test_query_trade_states_map_onto_payment_states_and_only_paid_ones_are_paid(offline_secrets, trade_state, expected):
    answer = transaction_answer(offline_secrets, trade_state)
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, answer))

    status = adapter.payment_query(ORDER_NO)

    assert status.state == expected
    assert (status.amount, status.app_id, status.merchant_id) == (
        D("12.34"),
        offline_secrets["appid"],
        offline_secrets["mchid"],
    )
    assert bool(status.transaction_id) == bool(status.paid_at) == (expected == PaymentState.PAID)


@pytest.mark.parametrize(("amount", "currency"), [({"total": 1234, "currency": "USD"}, "USD"), ({"total": 1234}, None)])
def test_the_currency_is_the_one_wechat_states_and_none_when_it_states_none(offline_secrets, amount, currency):
    answer = transaction_answer(offline_secrets, "NOTPAY", amount=amount)
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, 200, answer))

    status = adapter.payment_query(ORDER_NO)

    assert (status.amount, status.currency) == (D("12.34"), currency)


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        pytest.param(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, PaymentState.NOT_FOUND, id="not-found"),
        pytest.param(
            200,
            {"out_trade_no": "PO20990101000000000000001", "trade_state": "SUCCESS"},
            UnknownOutcome,
            id="other-order",
        ),
        pytest.param(200, {"out_trade_no": ORDER_NO}, UnknownOutcome, id="no-state"),
        pytest.param(401, {"code": "SIGN_ERROR", "message": "签名错误"}, UnknownOutcome, id="sign-error"),
        pytest.param(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, RetryableError, id="frequency"),
    ],
)
def test_other_query_answers_are_not_found_or_say_nothing(offline_secrets, status, payload, expected):
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, status, payload))

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.payment_query(ORDER_NO)
    else:
        assert adapter.payment_query(ORDER_NO).state == expected


def closed_then_queried(trade_state: str):
    return lambda s: [signed_answer(s, 204, None), signed_answer(s, 200, transaction_answer(s, trade_state))]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param(closed_then_queried("CLOSED"), (PaymentState.CLOSED, "CLOSED"), id="closed"),
        pytest.param(closed_then_queried("SUCCESS"), (PaymentState.PAID, ""), id="204-but-paid"),
        pytest.param(closed_then_queried("NOTPAY"), UnknownOutcome, id="204-but-open"),
        pytest.param(
            lambda s: [
                signed_answer(s, 204, None),
                signed_answer(s, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}),
            ],
            (PaymentState.CLOSED, "ORDER_NOT_EXIST"),
            id="204-for-an-order-never-opened",
        ),
        pytest.param(
            lambda s: [
                signed_answer(s, 400, {"code": "ORDER_CLOSED", "message": "订单已关闭"}),
                signed_answer(s, 200, transaction_answer(s, "CLOSED")),
            ],
            (PaymentState.CLOSED, "CLOSED"),
            id="closed-before",
        ),
        pytest.param(
            lambda s: [signed_answer(s, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})],
            (PaymentState.CLOSED, "ORDER_NOT_EXIST"),
            id="never-opened",
        ),
        pytest.param(
            lambda s: [
                signed_answer(s, 400, {"code": "ORDERPAID", "message": "订单已支付"}),
                signed_answer(s, 200, transaction_answer(s, "SUCCESS")),
            ],
            (PaymentState.PAID, ""),
            id="paid",
        ),
        pytest.param(
            lambda s: [
                signed_answer(s, 400, {"code": "ORDERPAID", "message": "订单已支付"}),
                signed_answer(s, 200, transaction_answer(s, "NOTPAY")),
            ],
            UnknownOutcome,
            id="paid-but-query-disagrees",
        ),
        pytest.param(
            lambda s: [signed_answer(s, 202, {"code": "USER_PAYING", "message": "用户支付中"})],
            RetryableError,
            id="user-paying",
        ),
        pytest.param(
            lambda s: [signed_answer(s, 400, {"code": "PARAM_ERROR", "message": "参数错误"})],
            RetryableError,
            id="param-error",
        ),
        pytest.param(
            lambda s: [signed_answer(s, 500, {"code": "SYSTEM_ERROR", "message": "系统错误"})], UnknownOutcome, id="500"
        ),
        pytest.param(lambda s: [HttpResponse(status=204, headers={}, body=b"")], UnknownOutcome, id="unsigned-204"),
    ],
)
def test_close_answers_follow_the_contract_closed_paid_or_not_closed(offline_secrets, answers, expected):
    adapter, recorder = offline_adapter(offline_secrets, *answers(offline_secrets))

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.payment_close(ORDER_NO, expires_at=EXPIRES_AT)
    else:
        status = adapter.payment_close(ORDER_NO, expires_at=EXPIRES_AT)
        assert (status.state, status.code) == expected
        assert (status.app_id, status.merchant_id) == (offline_secrets["appid"], offline_secrets["mchid"])
        if status.state == PaymentState.PAID:
            assert status.transaction_id == "1217752501201407033233368018"
            assert recorder.sent[1]["method"] == "GET"


def refund_answer(status: str, **changes) -> dict:
    return {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": REFUND_NO,
        "transaction_id": "1217752501201407033233368018",
        "out_trade_no": ORDER_NO,
        "channel": "ORIGINAL",
        "user_received_account": "招商银行信用卡0403",
        "create_time": "2025-01-01T13:00:00+08:00",
        "status": status,
        "amount": {"total": 1234, "refund": 500, "payer_total": 1234, "payer_refund": 500, "currency": "CNY"},
        **changes,
    }


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        pytest.param(200, refund_answer("SUCCESS"), (RefundState.SUCCESS, ""), id="success"),
        pytest.param(200, refund_answer("PROCESSING"), (RefundState.PROCESSING, ""), id="processing"),
        pytest.param(200, refund_answer("ABNORMAL"), (RefundState.PROCESSING, "ABNORMAL"), id="abnormal"),
        pytest.param(200, refund_answer("CLOSED"), (RefundState.FAILED, "CLOSED"), id="closed"),
        pytest.param(
            403, {"code": "NOT_ENOUGH", "message": "余额不足"}, (RefundState.FAILED, "NOT_ENOUGH"), id="not-enough"
        ),
        pytest.param(
            403,
            {"code": "USER_ACCOUNT_ABNORMAL", "message": "退款请求失败"},
            (RefundState.FAILED, "USER_ACCOUNT_ABNORMAL"),
            id="account-abnormal",
        ),
        pytest.param(
            400, {"code": "PARAM_ERROR", "message": "参数错误"}, (RefundState.FAILED, "PARAM_ERROR"), id="param-error"
        ),
        # Also the answer to a refund number reused with other parameters: the first may be refunded.
        pytest.param(400, {"code": "INVALID_REQUEST", "message": "无效请求"}, UnknownOutcome, id="invalid-request"),
        pytest.param(
            404,
            {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"},
            (RefundState.FAILED, "RESOURCE_NOT_EXISTS"),
            id="no-order",
        ),
        pytest.param(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, RetryableError, id="frequency"),
        pytest.param(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="500"),
        pytest.param(400, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="system-error"),
        pytest.param(
            200, refund_answer("SUCCESS", out_refund_no="RF20990101000000000000001"), UnknownOutcome, id="other-refund"
        ),
        pytest.param(
            200, refund_answer("SUCCESS", out_trade_no="PO20990101000000000000001"), UnknownOutcome, id="other-order"
        ),
    ],
)
def test_refund_answers_map_onto_success_processing_failed_retryable_or_unknown(
    offline_secrets, status, payload, expected
):
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, status, payload))

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.refund_create(refund_request())
    else:
        refund = adapter.refund_create(refund_request())
        assert (refund.state, refund.code, refund.amount) == (*expected, D("5.00"))


def test_a_refund_number_with_unsafe_characters_is_quoted_in_the_query_path(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.refund_query("RF/1", order_no=ORDER_NO)

    assert recorder.sent[0]["path"] == f"/v3/refund/domestic/refunds/{quote('RF/1', safe='')}"
