"""WeChat Pay v3 merchant transfer: signatures against the documented algorithm computed here by
hand, round trips with the sandbox over real HTTP, notifies, and configuration."""

import base64
import functools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from payments.channels.base import (
    NotifyRejected,
    PayoutNotice,
    PayoutRequest,
    PayoutState,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.http import HttpResponse
from payments.channels.wechat_v3 import WechatV3Adapter, adapter_for_sandbox, adapter_from_environment
from payments.order_numbers import order_no_new
from payments.sandbox import engine
from payments.sandbox import wechat_v3 as sandbox_v3
from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxHit, SandboxPayout, Scenario

D = Decimal
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
BILLS = "/v3/fund-app/mch-transfer/transfer-bills"
WECHAT = Protocol.WECHAT_V3


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


def sign_by_hand(private_pem: str, message: bytes) -> str:
    key = private_key_by_hand(private_pem)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_by_hand(public_pem: str, message: bytes, signature: str) -> None:
    """Raises InvalidSignature unless ``signature`` is SHA256withRSA of ``message``."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())


def wechatpay_headers_by_hand(private_pem: str, serial: str, body: bytes, *, timestamp: int | None = None) -> dict:
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_by_hand(private_pem, message),
        "Wechatpay-Serial": serial,
    }


def authorization_fields(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


def resource_by_hand(api_v3_key: str, bill: dict) -> dict:
    nonce, associated_data = "fdasflkja484", "mch_payment"
    ciphertext = AESGCM(api_v3_key.encode()).encrypt(
        nonce.encode(), json.dumps(bill).encode(), associated_data.encode()
    )
    return {
        "original_type": "mch_payment",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


# --- Fixtures --------------------------------------------------------------------------------


def payout_request(order_no: str, *, amount: str = "12.34", payee_name: str = "", notify_url: str = ""):
    return PayoutRequest(
        order_no=order_no,
        amount=D(amount),
        currency="CNY",
        payee=OPENID,
        payee_name=payee_name,
        bank_code="",
        remark="余额提现",
        notify_url=notify_url,
    )


class ChannelRecorder:
    """Stands in for WeChat's servers where the sandbox cannot play the answer: records what
    was sent and answers ``response``."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response
        self.sent: list[dict] = []

    def send(self, method: str, path: str, *, body: bytes = b"", headers) -> HttpResponse:
        self.sent.append({"method": method, "path": path, "body": body, "headers": dict(headers)})
        return self.response


@pytest.fixture(scope="module")
def offline_secrets() -> dict:
    """Keys for tests that never reach the sandbox's database."""
    return sandbox_v3.keys_generate()


def offline_adapter(secrets: dict, response: HttpResponse) -> tuple[WechatV3Adapter, ChannelRecorder]:
    adapter = adapter_for_sandbox(secrets, base_url="https://api.mch.weixin.qq.com", read_timeout=1)
    recorder = ChannelRecorder(response)
    adapter.http = recorder  # type: ignore[assignment]
    return adapter, recorder


@pytest.fixture
def sandbox(live_server, sent_tasks):
    """The sandbox's keys and a factory of adapters pointed at it over real HTTP; ``overrides``
    replace merchant-side secrets (a wrong key, a wrong serial). The notifies (and settlements)
    the sandbox schedules are recorded in ``notifies`` instead of reaching a broker no worker
    reads, so a PROCESS payout stays processing until the test settles it."""
    secrets = keys_for(WECHAT)
    notifies = sent_tasks.named(engine.NOTIFY_TASK)

    def adapter(*, read_timeout: float = 5.0, **overrides: str) -> WechatV3Adapter:
        return adapter_for_sandbox(
            {**secrets, **overrides}, base_url=f"{live_server.url}/sandbox/wechat_v3", read_timeout=read_timeout
        )

    return SimpleNamespace(
        secrets=secrets, adapter=adapter, url=f"{live_server.url}/sandbox/wechat_v3", notifies=notifies
    )


# --- Vectors ---------------------------------------------------------------------------------


def test_the_authorization_signs_method_path_timestamp_nonce_and_body_as_documented(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))
    order_no = order_no_new("WD")

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(order_no, payee_name="张三", notify_url="https://wallet.example/n/"))

    sent = recorder.sent[0]
    fields = authorization_fields(sent["headers"]["Authorization"])
    message = f"POST\n{BILLS}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode() + sent["body"] + b"\n"
    verify_by_hand(offline_secrets["merchant_public_key"], message, fields["signature"])
    assert fields["mchid"] == offline_secrets["mchid"]
    assert fields["serial_no"] == offline_secrets["merchant_serial"]
    assert abs(int(fields["timestamp"]) - time.time()) < 60
    assert sent["headers"]["Accept"] == "application/json"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["headers"]["Wechatpay-Serial"] == offline_secrets["platform_serial"]
    bill = json.loads(sent["body"])
    assert bill["appid"] == offline_secrets["appid"]
    assert bill["out_bill_no"] == order_no
    assert bill["openid"] == OPENID
    assert bill["transfer_amount"] == 1234
    assert bill["transfer_scene_id"] == "1000"
    assert bill["notify_url"] == "https://wallet.example/n/"
    assert {"info_type": "活动名称", "info_content": "钱包提现"} in bill["transfer_scene_report_infos"]


def test_the_payee_name_travels_encrypted_with_rsa_oaep_under_the_platform_key(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(order_no_new("WD"), payee_name="张三"))

    bill = json.loads(recorder.sent[0]["body"])
    assert "张三" not in recorder.sent[0]["body"].decode()
    platform = serialization.load_pem_private_key(offline_secrets["platform_private_key"].encode(), password=None)
    assert isinstance(platform, rsa.RSAPrivateKey)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    assert platform.decrypt(base64.b64decode(bill["user_name"]), oaep).decode() == "张三"


def test_a_query_signs_the_get_with_the_order_number_in_the_path_and_an_empty_body(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=502, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.query_payout("WD20250101120000123456789")

    sent = recorder.sent[0]
    fields = authorization_fields(sent["headers"]["Authorization"])
    path = f"{BILLS}/out-bill-no/WD20250101120000123456789"
    assert sent["method"] == "GET"
    assert sent["path"] == path
    verify_by_hand(
        offline_secrets["merchant_public_key"],
        f"GET\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n\n".encode(),
        fields["signature"],
    )


def test_amounts_go_out_in_fen_and_one_with_more_than_two_places_is_never_sent(offline_secrets):
    adapter, recorder = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(order_no_new("WD"), amount="0.10"))
    with pytest.raises(ValueError):
        adapter.payout(payout_request(order_no_new("WD"), amount="1.234"))

    assert len(recorder.sent) == 1
    assert json.loads(recorder.sent[0]["body"])["transfer_amount"] == 10


@pytest.mark.django_db(transaction=True)
def test_a_sandbox_answer_is_signed_with_the_platform_key_as_documented(sandbox):
    secrets = sandbox.secrets
    order_no = order_no_new("WD")
    body = json.dumps(
        {
            "appid": secrets["appid"],
            "out_bill_no": order_no,
            "transfer_scene_id": "1000",
            "openid": OPENID,
            "transfer_amount": 500,
            "transfer_remark": "提现",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "提现"}],
        }
    ).encode()
    stamp, nonce = str(int(time.time())), "593BEC0C930BF1AFEB40B4A08C8FB242"
    path = f"/sandbox/wechat_v3{BILLS}"
    signature = sign_by_hand(
        secrets["merchant_private_key"], f"POST\n{path}\n{stamp}\n{nonce}\n".encode() + body + b"\n"
    )
    authorization = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{secrets["mchid"]}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{secrets["merchant_serial"]}"'
    )

    response = requests.post(
        f"{sandbox.url}{BILLS}",
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
    assert response.json()["state"] == "SUCCESS"
    assert SandboxPayout.objects.get(order_no=order_no).amount == D("5.00")


@pytest.mark.django_db
def test_a_notify_resource_decrypts_by_hand_with_aes_256_gcm_and_is_signed_by_the_platform():
    secrets = keys_for(WECHAT)
    payout = sandbox_payout(state=SandboxPayout.State.SUCCESS)

    built = sandbox_v3.notify_build(payout, secrets)

    assert built is not None
    headers, body = built
    verify_by_hand(
        secrets["platform_public_key"],
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n",
        headers["Wechatpay-Signature"],
    )
    envelope = json.loads(body)
    assert envelope["event_type"] == "MCHTRANSFER.BILL.FINISHED"
    assert envelope["resource_type"] == "encrypt-resource"
    resource = envelope["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    plaintext = AESGCM(secrets["api_v3_key"].encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode()
    )
    bill = json.loads(plaintext)
    assert bill["out_bill_no"] == payout.order_no
    assert bill["transfer_bill_no"] == payout.channel_reference
    assert bill["state"] == "SUCCESS"
    assert bill["mch_id"] == secrets["mchid"]
    assert bill["transfer_amount"] == 1234
    assert bill["openid"] == "oUp***S6o"


# --- Round trips with the sandbox over real HTTP ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_payout_the_sandbox_pays_comes_back_success_with_the_transfer_bill_number(sandbox):
    order_no = order_no_new("WD")

    result = sandbox.adapter().payout(payout_request(order_no))

    paid = SandboxPayout.objects.get(protocol=WECHAT, order_no=order_no)
    assert result.state == PayoutState.SUCCESS
    assert result.channel_reference == paid.channel_reference != ""
    assert paid.amount == D("12.34")
    assert paid.payee_masked == "oUp***S6o"


@pytest.mark.django_db(transaction=True)
def test_the_same_order_sent_twice_gets_the_same_answer_and_is_paid_once(sandbox):
    order_no = order_no_new("WD")
    adapter = sandbox.adapter()

    first = adapter.payout(payout_request(order_no))
    second = adapter.payout(payout_request(order_no))

    assert first == second
    assert first.state == PayoutState.SUCCESS
    paid = SandboxPayout.objects.get(protocol=WECHAT, order_no=order_no)
    assert paid.requests == 2
    assert SandboxPayout.objects.filter(order_no=order_no).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_payout_is_failed_with_the_channel_fail_reason_and_queries_the_same(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.FAIL, order_no=order_no, failure_code="ACCOUNT_FROZEN")
    adapter = sandbox.adapter()

    result = adapter.payout(payout_request(order_no))

    assert result.state == PayoutState.FAILED
    assert result.code == "ACCOUNT_FROZEN"
    assert adapter.query_payout(order_no) == result


@pytest.mark.django_db(transaction=True)
def test_an_accepted_payout_is_processing_until_the_sandbox_settles_it(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.PROCESS, order_no=order_no)
    adapter = sandbox.adapter()

    accepted = adapter.payout(payout_request(order_no))
    queried = adapter.query_payout(order_no)
    engine.payout_settle(payout_id=SandboxPayout.objects.get(order_no=order_no).pk, state=SandboxPayout.State.SUCCESS)
    settled = adapter.query_payout(order_no)

    assert accepted.state == queried.state == PayoutState.PROCESSING
    assert settled.state == PayoutState.SUCCESS
    assert settled.channel_reference == accepted.channel_reference


@pytest.mark.django_db(transaction=True)
def test_a_query_of_an_order_the_sandbox_never_got_is_not_found(sandbox):
    result = sandbox.adapter().query_payout(order_no_new("WD"))

    assert result.state == PayoutState.NOT_FOUND
    assert result.code == "NOT_FOUND"


@pytest.mark.django_db(transaction=True)
def test_a_server_error_is_unknown_pays_nothing_and_the_same_order_can_be_sent_again(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.SERVER_ERROR, order_no=order_no, remaining=1)
    adapter = sandbox.adapter()

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(order_no))
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()

    assert adapter.payout(payout_request(order_no)).state == PayoutState.SUCCESS
    assert SandboxPayout.objects.get(order_no=order_no).requests == 1


@pytest.mark.django_db(transaction=True)
def test_a_timeout_is_unknown_and_nothing_is_paid(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.TIMEOUT, order_no=order_no, delay_seconds=1.5)

    with pytest.raises(UnknownOutcome):
        sandbox.adapter(read_timeout=0.5).payout(payout_request(order_no))

    assert not SandboxPayout.objects.filter(order_no=order_no).exists()
    assert SandboxHit.objects.filter(order_no=order_no).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_slow_answer_within_the_read_timeout_is_success(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.SLOW, order_no=order_no, delay_seconds=0.3)

    assert sandbox.adapter().payout(payout_request(order_no)).state == PayoutState.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_a_dropped_answer_is_unknown_though_the_sandbox_paid_and_a_query_finds_the_success(sandbox):
    order_no = order_no_new("WD")
    engine.rule_add(protocol=WECHAT, scenario=Scenario.DROP_RESPONSE, order_no=order_no)
    adapter = sandbox.adapter()

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(order_no))
    queried = adapter.query_payout(order_no)
    resent = adapter.payout(payout_request(order_no))

    paid = SandboxPayout.objects.get(order_no=order_no)
    assert queried.state == resent.state == PayoutState.SUCCESS
    assert queried.channel_reference == paid.channel_reference
    assert paid.requests == 2


@pytest.mark.django_db(transaction=True)
def test_an_answer_signed_by_another_platform_key_is_unknown_never_success(sandbox):
    order_no = order_no_new("WD")
    _, stranger_public = rsa_key_pair()
    misled = sandbox.adapter(platform_public_key=stranger_public)

    with pytest.raises(UnknownOutcome, match="not verified"):
        misled.payout(payout_request(order_no))
    with pytest.raises(UnknownOutcome):
        misled.query_payout(order_no)

    assert SandboxPayout.objects.get(order_no=order_no).state == SandboxPayout.State.SUCCESS
    assert sandbox.adapter().query_payout(order_no).state == PayoutState.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_an_answer_under_a_platform_serial_we_do_not_trust_is_unknown(sandbox):
    misled = sandbox.adapter(platform_serial="PUB_KEY_ID_011400000000000000000000000000")

    with pytest.raises(UnknownOutcome, match="serial"):
        misled.payout(payout_request(order_no_new("WD")))


@pytest.mark.django_db(transaction=True)
def test_a_request_signed_with_a_wrong_merchant_key_is_refused_with_sign_error_and_pays_nothing(sandbox):
    order_no = order_no_new("WD")
    stranger_private, _ = rsa_key_pair()
    impostor = sandbox.adapter(merchant_private_key=stranger_private)

    result = impostor.payout(payout_request(order_no))

    assert result.state == PayoutState.FAILED
    assert result.code == "SIGN_ERROR"
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()
    assert not SandboxHit.objects.filter(order_no=order_no).exists()
    with pytest.raises(UnknownOutcome):
        impostor.query_payout(order_no)  # A refused query says nothing about the payout.


@pytest.mark.django_db(transaction=True)
def test_a_bill_for_an_app_of_another_merchant_is_refused_and_pays_nothing(sandbox):
    order_no = order_no_new("WD")

    result = sandbox.adapter(appid="wx0000000000000000").payout(payout_request(order_no))

    assert result.state == PayoutState.FAILED
    assert result.code == "INVALID_REQUEST"
    assert not SandboxPayout.objects.filter(order_no=order_no).exists()


@pytest.mark.django_db(transaction=True)
def test_a_payout_with_a_notify_url_is_notified_and_the_notify_parses_into_a_notice(sandbox):
    order_no = order_no_new("WD")
    adapter = sandbox.adapter()

    result = adapter.payout(payout_request(order_no, payee_name="张三", notify_url="https://wallet.example/n/"))

    paid = SandboxPayout.objects.get(order_no=order_no)
    assert paid.notify_url == "https://wallet.example/n/"
    assert sandbox.notifies == [{"args": [paid.pk, SandboxPayout.State.SUCCESS], "countdown": 0.0}]
    built = sandbox_v3.notify_build(paid, sandbox.secrets)
    assert built is not None
    assert adapter.parse_payout_notify(headers=built[0], body=built[1]) == PayoutNotice(
        order_no=order_no, state=PayoutState.SUCCESS, amount=D("12.34"), channel_reference=result.channel_reference
    )


# --- Answers the sandbox does not play, signed here with the platform key -----------------------


def signed_answer(secrets: dict, status: int, payload: dict, *, timestamp: int | None = None) -> HttpResponse:
    body = json.dumps(payload).encode()
    headers = wechatpay_headers_by_hand(
        secrets["platform_private_key"], secrets["platform_serial"], body, timestamp=timestamp
    )
    return HttpResponse(status=status, headers=headers, body=body)


def bill_answer(order_no: str, state: str, **extra: str) -> dict:
    return {
        "out_bill_no": order_no,
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "create_time": "2025-01-01T12:00:00+08:00",
        "state": state,
        **extra,
    }


ORDER_NO = "WD20250101120000123456789"
FAILED, PROCESSING = PayoutState.FAILED, PayoutState.PROCESSING


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        pytest.param(403, {"code": "NOT_ENOUGH", "message": "资金不足"}, (FAILED, "NOT_ENOUGH"), id="not-enough"),
        pytest.param(400, {"code": "PARAM_ERROR", "message": "参数错误"}, (FAILED, "PARAM_ERROR"), id="param-error"),
        pytest.param(403, {"code": "NO_AUTH", "message": "商户无权限"}, (FAILED, "NO_AUTH"), id="no-auth"),
        pytest.param(200, bill_answer(ORDER_NO, "CANCELLED"), (FAILED, "CANCELLED"), id="cancelled"),
        pytest.param(
            200,
            bill_answer(ORDER_NO, "FAIL", fail_reason="PAYEE_ACCOUNT_ABNORMAL"),
            (FAILED, "PAYEE_ACCOUNT_ABNORMAL"),
            id="fail",
        ),
        pytest.param(
            200,
            bill_answer(ORDER_NO, "WAIT_USER_CONFIRM", package_info="affffddafdfafddffda=="),
            (PROCESSING, ""),
            id="wait-user-confirm",
        ),
        pytest.param(200, bill_answer(ORDER_NO, "TRANSFERING"), (PROCESSING, ""), id="transfering"),
        pytest.param(200, bill_answer(ORDER_NO, "ACCEPTED"), (PROCESSING, ""), id="accepted"),
        pytest.param(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, RetryableError, id="frequency"),
        pytest.param(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="500"),
        pytest.param(400, {"code": "SYSTEM_ERROR", "message": "系统错误"}, UnknownOutcome, id="system-error"),
        pytest.param(200, bill_answer("WD20250101120000999999999", "SUCCESS"), UnknownOutcome, id="other-bill"),
        pytest.param(200, {"out_bill_no": ORDER_NO}, UnknownOutcome, id="no-state"),
    ],
)
def test_wechat_answers_map_onto_failed_processing_retryable_or_unknown(offline_secrets, status, payload, expected):
    adapter, _ = offline_adapter(offline_secrets, signed_answer(offline_secrets, status, payload))

    if isinstance(expected, type):
        with pytest.raises(expected):
            adapter.payout(payout_request(ORDER_NO))
    else:
        result = adapter.payout(payout_request(ORDER_NO))
        assert (result.state, result.code) == expected


def test_a_platform_certificate_is_trusted_like_the_bare_platform_public_key(offline_secrets):
    platform = serialization.load_pem_private_key(offline_secrets["platform_private_key"].encode(), password=None)
    assert isinstance(platform, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(platform, hashes.SHA256())
    )
    secrets = {**offline_secrets, "platform_public_key": certificate.public_bytes(serialization.Encoding.PEM).decode()}
    adapter, _ = offline_adapter(secrets, signed_answer(offline_secrets, 200, bill_answer(ORDER_NO, "SUCCESS")))

    assert adapter.payout(payout_request(ORDER_NO)).state == PayoutState.SUCCESS


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda s: HttpResponse(status=403, headers={}, body=b'{"code":"NOT_ENOUGH"}'), id="unsigned-4xx"),
        pytest.param(
            lambda s: HttpResponse(status=200, headers={}, body=json.dumps(bill_answer(ORDER_NO, "SUCCESS")).encode()),
            id="unsigned-success",
        ),
        pytest.param(
            lambda s: signed_answer(s, 200, bill_answer(ORDER_NO, "SUCCESS"), timestamp=int(time.time()) - 301),
            id="stale-success",
        ),
        pytest.param(
            lambda s: HttpResponse(
                status=200,
                headers=signed_answer(s, 200, bill_answer(ORDER_NO, "FAIL")).headers,
                body=json.dumps(bill_answer(ORDER_NO, "SUCCESS")).encode(),
            ),
            id="tampered-body",
        ),
    ],
)
def test_an_answer_that_does_not_verify_is_unknown_whatever_it_says(offline_secrets, answer):
    adapter, _ = offline_adapter(offline_secrets, answer(offline_secrets))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request(ORDER_NO))


# --- Notifies ----------------------------------------------------------------------------------


def sandbox_payout(*, state: str, failure_code: str = "") -> SandboxPayout:
    return SandboxPayout.objects.create(
        protocol=WECHAT,
        order_no=order_no_new("WD"),
        channel_reference="SBX00000000000000000000001",
        amount=D("12.34"),
        payee_masked="oUp***S6o",
        state=state,
        failure_code=failure_code,
        scenario=Scenario.SUCCEED,
        finished_at=timezone.now(),
    )


def notify_adapter(secrets: dict) -> WechatV3Adapter:
    return adapter_for_sandbox(secrets, base_url="http://127.0.0.1:9/sandbox/wechat_v3", read_timeout=1)


@pytest.mark.django_db
def test_a_genuine_success_notify_becomes_a_notice_in_yuan_whatever_the_header_case():
    secrets = keys_for(WECHAT)
    payout = sandbox_payout(state=SandboxPayout.State.SUCCESS)
    built = sandbox_v3.notify_build(payout, secrets)
    assert built is not None
    headers, body = built

    notice = notify_adapter(secrets).parse_payout_notify(
        headers={name.lower(): value for name, value in headers.items()}, body=body
    )

    assert notice == PayoutNotice(
        order_no=payout.order_no,
        state=PayoutState.SUCCESS,
        amount=D("12.34"),
        channel_reference=payout.channel_reference,
    )


@pytest.mark.django_db
def test_a_genuine_failure_notify_carries_the_fail_reason():
    secrets = keys_for(WECHAT)
    payout = sandbox_payout(state=SandboxPayout.State.FAILED, failure_code="ACCOUNT_FROZEN")
    built = sandbox_v3.notify_build(payout, secrets)
    assert built is not None

    notice = notify_adapter(secrets).parse_payout_notify(headers=built[0], body=built[1])

    assert (notice.state, notice.code) == (PayoutState.FAILED, "ACCOUNT_FROZEN")


@pytest.mark.django_db
@pytest.mark.parametrize("state", [SandboxPayout.State.PROCESSING, SandboxPayout.State.RETURNED])
def test_only_final_transfer_states_are_notified(state):
    assert sandbox_v3.notify_build(sandbox_payout(state=state), keys_for(WECHAT)) is None


def resign(secrets: dict, envelope: dict, **kwargs) -> tuple[dict, bytes]:
    body = json.dumps(envelope).encode()
    return wechatpay_headers_by_hand(secrets["platform_private_key"], secrets["platform_serial"], body, **kwargs), body


def tampered_body(secrets, headers, envelope):
    return headers, json.dumps({**envelope, "summary": "转账成功"}).encode()


def signed_by_a_stranger(secrets, headers, envelope):
    body = json.dumps(envelope).encode()
    stranger_private, _ = rsa_key_pair()
    return wechatpay_headers_by_hand(stranger_private, secrets["platform_serial"], body), body


def unknown_serial(secrets, headers, envelope):
    body = json.dumps(envelope).encode()
    return wechatpay_headers_by_hand(secrets["platform_private_key"], "PUB_KEY_ID_0000000000", body), body


def without_signature(secrets, headers, envelope):
    return {name: value for name, value in headers.items() if name != "Wechatpay-Signature"}, json.dumps(
        envelope
    ).encode()


def stale_timestamp(secrets, headers, envelope):
    return resign(secrets, envelope, timestamp=int(time.time()) - 600)


def undecryptable_resource(secrets, headers, envelope):
    resource = envelope["resource"]
    ciphertext = bytearray(base64.b64decode(resource["ciphertext"]))
    ciphertext[0] ^= 0x01
    altered = {**resource, "ciphertext": base64.b64encode(bytes(ciphertext)).decode()}
    return resign(secrets, {**envelope, "resource": altered})


def encrypted_under_another_key(secrets, headers, envelope):
    bill = {"out_bill_no": "WD1", "state": "SUCCESS", "mch_id": secrets["mchid"], "transfer_amount": 100}
    return resign(secrets, {**envelope, "resource": resource_by_hand("k" * 32, bill)})


def for_a_foreign_merchant(secrets, headers, envelope):
    bill = {"out_bill_no": "WD1", "state": "SUCCESS", "mch_id": "1900000001", "transfer_amount": 100}
    return resign(secrets, {**envelope, "resource": resource_by_hand(secrets["api_v3_key"], bill)})


def another_event(secrets, headers, envelope):
    return resign(secrets, {**envelope, "event_type": "TRANSACTION.SUCCESS"})


def without_amount(secrets, headers, envelope):
    bill = {"out_bill_no": "WD1", "state": "SUCCESS", "mch_id": secrets["mchid"]}
    return resign(secrets, {**envelope, "resource": resource_by_hand(secrets["api_v3_key"], bill)})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forge",
    [
        tampered_body,
        signed_by_a_stranger,
        unknown_serial,
        without_signature,
        stale_timestamp,
        undecryptable_resource,
        encrypted_under_another_key,
        for_a_foreign_merchant,
        another_event,
        without_amount,
    ],
)
def test_a_notify_that_is_not_genuine_or_not_ours_is_rejected(forge):
    secrets = keys_for(WECHAT)
    built = sandbox_v3.notify_build(sandbox_payout(state=SandboxPayout.State.SUCCESS), secrets)
    assert built is not None
    headers, body = forge(secrets, built[0], json.loads(built[1]))

    with pytest.raises(NotifyRejected):
        notify_adapter(secrets).parse_payout_notify(headers=headers, body=body)


def test_the_notify_reply_is_an_empty_200_when_accepted_and_a_500_fail_otherwise(offline_secrets):
    adapter, _ = offline_adapter(offline_secrets, HttpResponse(status=500, headers={}, body=b""))

    accepted = adapter.notify_reply(accepted=True)
    refused = adapter.notify_reply(accepted=False)

    assert (accepted.status, accepted.body) == (200, b"")
    assert refused.status == 500
    assert refused.content_type == "application/json"
    assert json.loads(refused.body)["code"] == "FAIL"


# --- Configuration ------------------------------------------------------------------------------


def environment_of(secrets: dict) -> dict[str, str]:
    return {
        "WECHAT_V3_MCHID": secrets["mchid"],
        "WECHAT_V3_APPID": secrets["appid"],
        "WECHAT_V3_MERCHANT_SERIAL": secrets["merchant_serial"],
        "WECHAT_V3_PRIVATE_KEY": secrets["merchant_private_key"],
        "WECHAT_V3_PLATFORM_SERIAL": secrets["platform_serial"],
        "WECHAT_V3_PLATFORM_PUBLIC_KEY": secrets["platform_public_key"],
        "WECHAT_V3_API_V3_KEY": secrets["api_v3_key"],
    }


@pytest.fixture
def clean_environment(monkeypatch):
    for name in [*environment_of(sandbox_v3.keys_generate()), "WECHAT_V3_BASE_URL", "WECHAT_V3_TRANSFER_SCENE_ID"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_any_wechat_v3_variable_there_is_no_configured_adapter(clean_environment):
    assert adapter_from_environment(read_timeout=5) is None


def test_with_every_wechat_v3_variable_the_adapter_talks_to_wechat(clean_environment, offline_secrets):
    for name, value in environment_of(offline_secrets).items():
        clean_environment.setenv(name, value)
    # A PEM kept on one line with literal \n, as .env files often hold it.
    clean_environment.setenv("WECHAT_V3_PRIVATE_KEY", offline_secrets["merchant_private_key"].replace("\n", "\\n"))

    adapter = adapter_from_environment(read_timeout=5)

    assert isinstance(adapter, WechatV3Adapter)
    assert adapter.http.base_url == "https://api.mch.weixin.qq.com"
    assert adapter.credentials.mchid == offline_secrets["mchid"]
    assert adapter.credentials.transfer_scene_id == "1000"


def test_some_wechat_v3_variables_without_the_others_name_the_missing_ones_and_no_values(
    clean_environment, offline_secrets
):
    clean_environment.setenv("WECHAT_V3_MCHID", offline_secrets["mchid"])
    clean_environment.setenv("WECHAT_V3_API_V3_KEY", offline_secrets["api_v3_key"])

    with pytest.raises(ImproperlyConfigured) as raised:
        adapter_from_environment(read_timeout=5)

    message = str(raised.value)
    assert "WECHAT_V3_PRIVATE_KEY" in message
    assert "WECHAT_V3_PLATFORM_PUBLIC_KEY" in message
    assert "WECHAT_V3_MCHID" not in message
    assert offline_secrets["api_v3_key"] not in message


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        (
            "WECHAT_V3_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
            "WECHAT_V3_PRIVATE_KEY",
        ),
        ("WECHAT_V3_API_V3_KEY", "too-short-secret", "WECHAT_V3_API_V3_KEY"),
        ("WECHAT_V3_TRANSFER_SCENE_ID", "9999", "WECHAT_V3_TRANSFER_SCENE_ID"),
    ],
)
def test_a_wechat_v3_variable_that_does_not_parse_is_named_without_its_value(
    clean_environment, offline_secrets, name, value, named
):
    for variable, setting in environment_of(offline_secrets).items():
        clean_environment.setenv(variable, setting)
    clean_environment.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=named) as raised:
        adapter_from_environment(read_timeout=5)

    assert value not in str(raised.value)
