"""The bank gateway adapter: its SHA256withRSA signatures against strings built by hand here,
its answers and callbacks (forged or tampered ones are never success), and round trips over
real HTTP with the sandbox playing each scenario."""

import base64
import functools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from payments.channels.bank import BankAdapter, adapter_for_sandbox, adapter_from_environment, signing
from payments.channels.base import (
    NotifyRejected,
    PayoutRequest,
    PayoutState,
    RetryableError,
    UnknownOutcome,
)
from payments.channels.http import HttpResponse
from payments.conftest import CARD_NUMBER
from payments.sandbox import bank as bank_sandbox
from payments.sandbox import engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxHit, SandboxKeys, SandboxPayout

D = Decimal
NOTIFY_URL = "http://127.0.0.1:9/api/v1/notify/bank/"
live = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def keys() -> dict:
    """One generated set per module: RSA-2048 generation is the slow part."""
    return bank_sandbox.keys_generate()


@pytest.fixture(scope="module")
def other_keys() -> dict:
    """A second merchant and gateway, for forgeries."""
    return bank_sandbox.keys_generate()


@pytest.fixture
def sandbox_keys(keys) -> dict:
    """The sandbox uses the module's keys instead of generating its own for every test."""
    SandboxKeys.objects.create(protocol="bank", secrets=keys)
    return keys_for("bank")


@pytest.fixture
def notifies_sent(sent_tasks):
    """The sandbox's notify tasks, kept out of the broker: no worker runs here, and callbacks
    are tested through ``notify_build`` directly."""
    return sent_tasks.named(engine.NOTIFY_TASK)


@pytest.fixture
def bank(live_server, sandbox_keys, notifies_sent) -> Callable[..., BankAdapter]:
    def make(read_timeout: float = 5.0, **replaced: str) -> BankAdapter:
        return adapter_for_sandbox(
            sandbox_keys | replaced, base_url=f"{live_server.url}/sandbox/bank", read_timeout=read_timeout
        )

    return make


@pytest.fixture
def offline(keys) -> BankAdapter:
    """An adapter whose HTTP a test replaces: for answers no sandbox scenario gives."""
    return adapter_for_sandbox(keys, base_url="http://127.0.0.1:9", read_timeout=1.0)


def payout_request(order_no: str, *, card: str = CARD_NUMBER, amount: str = "12.34", remark: str = "withdrawal"):
    return PayoutRequest(
        order_no=order_no,
        amount=D(amount),
        currency="CNY",
        payee=card,
        payee_name="张三",
        bank_code="ICBC",
        remark=remark,
        notify_url=NOTIFY_URL,
    )


@functools.cache
def private_key_by_hand(private_pem: str) -> rsa.RSAPrivateKey:
    """Loading (and checking) an RSA key costs tens of milliseconds: once per key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(message: str, private_pem: str) -> str:
    key = private_key_by_hand(private_pem)
    return base64.b64encode(key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(message: str, signature: str, public_pem: str) -> None:
    """Raises InvalidSignature unless ``signature`` is SHA256withRSA of ``message``."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature), message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())


def now() -> str:
    return str(int(time.time()))


def gateway_signed(fields: dict[str, Any], secrets: dict) -> bytes:
    body = signing.signed(fields, signing.private_key_load(secrets["gateway_private_key"]))
    return json.dumps(body, ensure_ascii=False).encode()


def answer_with(adapter: BankAdapter, monkeypatch, body: bytes, status: int = 200) -> None:
    monkeypatch.setattr(adapter.http, "send", lambda *args, **kwargs: HttpResponse(status, {}, body))


def spy_on(adapter: BankAdapter, monkeypatch, alter: Callable[[bytes], bytes] = lambda body: body) -> list[dict]:
    """Record what the adapter sends and pass it on to the real sandbox; ``alter`` plays a man
    in the middle on the answer."""
    sent: list[dict] = []
    real_send = adapter.http.send

    def send(method: str, path: str, *, body: bytes = b"", headers) -> HttpResponse:
        sent.append({"method": method, "path": path, "body": body})
        response = real_send(method, path, body=body, headers=headers)
        return HttpResponse(response.status, response.headers, alter(response.body))

    monkeypatch.setattr(adapter.http, "send", send)
    return sent


def assert_card_nowhere(*errors: BaseException, card: str = CARD_NUMBER) -> None:
    """Not in any sandbox table, nor in any exception message (or its cause)."""
    for error in errors:
        for link in (error, error.__cause__, error.__context__):
            assert card not in str(link) and card not in repr(link)
    with connection.cursor() as cursor:
        for model in apps.get_app_config("sandbox").get_models():
            cursor.execute(f"SELECT t::text FROM {model._meta.db_table} t")
            assert not [row for (row,) in cursor.fetchall() if card in row], model.__name__


# Signatures against vectors built by hand from the documented algorithm.


def test_canonical_string_is_the_sorted_non_empty_fields_except_sign():
    fields = {"b": "2", "a": "中文", "sign": "x", "empty": "", "none": None, "nested": {"z": 1, "a": [1, "x"]}, "n": 5}

    assert signing.canonical_string(fields) == 'a=中文&b=2&n=5&nested={"a":[1,"x"],"z":1}'


@live
def test_payout_request_is_signed_over_the_hand_built_canonical_string(bank, sandbox_keys, monkeypatch):
    adapter = bank()
    sent = spy_on(adapter, monkeypatch)

    adapter.payout(payout_request("V-1", remark=""))

    assert (sent[0]["method"], sent[0]["path"]) == ("POST", "/v1/payouts")
    body = json.loads(sent[0]["body"])
    assert set(body) == {
        "merchant_id", "order_no", "amount", "currency", "card_number", "holder_name", "bank_code",
        "notify_url", "remark", "timestamp", "nonce", "sign",
    }  # fmt: skip
    assert abs(int(body["timestamp"]) - time.time()) < 5 and len(body["nonce"]) >= 16
    message = (
        f"amount=12.34&bank_code=ICBC&card_number={CARD_NUMBER}&currency=CNY&holder_name=张三"
        f"&merchant_id={sandbox_keys['merchant_id']}&nonce={body['nonce']}&notify_url={NOTIFY_URL}"
        f"&order_no=V-1&timestamp={body['timestamp']}"
    )  # the empty remark is left out
    rsa_verify(message, body["sign"], sandbox_keys["merchant_public_key"])


@live
def test_query_is_signed_over_its_query_parameters(bank, sandbox_keys, monkeypatch):
    adapter = bank()
    sent = spy_on(adapter, monkeypatch)

    adapter.query_payout("V 2/x")

    url = urlsplit(sent[0]["path"])
    assert (sent[0]["method"], url.path) == ("GET", "/v1/payouts/V%202%2Fx")
    params = dict(parse_qsl(url.query))
    assert set(params) == {"merchant_id", "timestamp", "nonce", "sign"}
    message = f"merchant_id={sandbox_keys['merchant_id']}&nonce={params['nonce']}&timestamp={params['timestamp']}"
    rsa_verify(message, params["sign"], sandbox_keys["merchant_public_key"])


def test_answer_signed_by_hand_with_the_gateway_key_is_read(offline, keys, monkeypatch):
    timestamp = now()
    message = f"code=0000&nonce=n1&order_no=V-3&payout_id=P9&status=SUCCESS&timestamp={timestamp}"
    fields = {"code": "0000", "order_no": "V-3", "payout_id": "P9", "status": "SUCCESS", "fail_code": ""}
    fields |= {"timestamp": timestamp, "nonce": "n1", "sign": rsa_sign(message, keys["gateway_private_key"])}
    answer_with(offline, monkeypatch, json.dumps(fields).encode())

    result = offline.payout(payout_request("V-3"))

    assert (result.state, result.channel_reference) == (PayoutState.SUCCESS, "P9")


def test_notify_signed_by_hand_with_the_gateway_key_is_accepted(offline, keys):
    timestamp, merchant_id = now(), keys["merchant_id"]
    message = (
        f"amount=12.34&fail_code=BANK_RETURNED&fail_message=退票&merchant_id={merchant_id}&nonce=n2"
        f"&order_no=V-4&payout_id=P4&status=RETURNED&timestamp={timestamp}"
    )
    fields = {
        "merchant_id": merchant_id, "order_no": "V-4", "payout_id": "P4", "status": "RETURNED", "amount": "12.34",
        "fail_code": "BANK_RETURNED", "fail_message": "退票", "timestamp": timestamp, "nonce": "n2",
        "sign": rsa_sign(message, keys["gateway_private_key"]),
    }  # fmt: skip

    notice = offline.parse_payout_notify(headers={}, body=json.dumps(fields, ensure_ascii=False).encode())

    assert (notice.order_no, notice.state, notice.amount) == ("V-4", PayoutState.RETURNED, D("12.34"))
    assert (notice.channel_reference, notice.code, notice.message) == ("P4", "BANK_RETURNED", "退票")


def test_sandbox_notify_is_signed_over_the_hand_built_canonical_string(keys):
    payout = SandboxPayout(order_no="V-5", channel_reference="P5", amount=D("7.50"), state="failed", failure_code="X1")

    headers, body = bank_sandbox.notify_build(payout, keys) or ({}, b"")

    fields = json.loads(body)
    assert headers["Content-Type"].startswith("application/json")
    message = (
        f"amount=7.50&fail_code=X1&fail_message={fields['fail_message']}&merchant_id={keys['merchant_id']}"
        f"&nonce={fields['nonce']}&order_no=V-5&payout_id=P5&status=FAILED&timestamp={fields['timestamp']}"
    )
    rsa_verify(message, fields["sign"], keys["gateway_public_key"])


# Answers the sandbox does not play: the mapping of gateway codes and of broken answers.


@pytest.mark.parametrize(
    ("code", "state", "our_code"),
    [("1001", "failed", "SIGN_ERROR"), ("1002", "failed", "PARAMETER_ERROR"), ("1003", "failed", "ACCOUNT_INVALID")],
)
def test_payout_refused_by_the_gateway_is_failed(offline, keys, monkeypatch, code, state, our_code):
    fields = {"code": code, "order_no": "M-1", "fail_message": "refused", **signing.stamp_new()}
    answer_with(offline, monkeypatch, gateway_signed(fields, keys))

    result = offline.payout(payout_request("M-1"))

    assert (result.state, result.code, result.message) == (state, our_code, "refused")


@pytest.mark.parametrize(
    ("code", "error"), [("2001", RetryableError), ("9999", UnknownOutcome), ("7777", UnknownOutcome)]
)
def test_payout_not_refused_by_the_gateway_is_retried_or_unknown(offline, keys, monkeypatch, code, error):
    answer_with(offline, monkeypatch, gateway_signed({"code": code, "order_no": "M-2", **signing.stamp_new()}, keys))

    with pytest.raises(error) as raised:
        offline.payout(payout_request("M-2"))

    assert raised.value.code == code


@pytest.mark.parametrize(
    ("code", "outcome"), [("4004", PayoutState.NOT_FOUND), ("2001", RetryableError), ("1001", UnknownOutcome)]
)
def test_query_refused_by_the_gateway_is_never_a_failed_payout(offline, keys, monkeypatch, code, outcome):
    answer_with(offline, monkeypatch, gateway_signed({"code": code, "order_no": "M-3", **signing.stamp_new()}, keys))

    if isinstance(outcome, PayoutState):
        assert offline.query_payout("M-3").state == outcome
    else:
        with pytest.raises(outcome):
            offline.query_payout("M-3")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"timestamp": str(int(time.time()) - 301)}, 200),  # a replayed old answer
        ({"order_no": "OTHER"}, 200),  # an answer about another order
        ({"status": "PENDING"}, 200),  # a status we do not know
        ({}, 502),  # a signed body does not make a 5xx an answer
    ],
)
def test_genuinely_signed_but_unusable_answer_is_unknown(offline, keys, monkeypatch, change, status):
    fields = {"code": "0000", "order_no": "M-4", "payout_id": "P", "status": "SUCCESS", **signing.stamp_new()}
    answer_with(offline, monkeypatch, gateway_signed(fields | change, keys), status=status)

    with pytest.raises(UnknownOutcome):
        offline.payout(payout_request("M-4"))


@pytest.mark.parametrize("body", [b"", b"<html>busy</html>", b"[]", b'{"code":"0000","order_no":"M-5","sign":"AAAA"}'])
def test_unreadable_or_unsigned_answer_is_unknown(offline, monkeypatch, body):
    answer_with(offline, monkeypatch, body)

    with pytest.raises(UnknownOutcome):
        offline.payout(payout_request("M-5"))


def test_amount_with_more_than_two_places_is_not_sent(offline, monkeypatch):
    answer_with(offline, monkeypatch, b"")

    with pytest.raises(ValueError, match="yuan and fen"):
        offline.payout(payout_request("M-6", amount="1.005"))


# Round trips over real HTTP with the sandbox.


@live
@pytest.mark.parametrize(("scenario", "delay"), [("succeed", 0), ("slow", 0.3)])
def test_payout_succeeds_and_the_sandbox_pays_once_to_the_masked_card(bank, notifies_sent, scenario, delay):
    engine.rule_add(protocol="bank", scenario=scenario, delay_seconds=delay)

    result = bank().payout(payout_request("R-1"))

    paid = SandboxPayout.objects.get()
    assert (result.state, result.channel_reference) == (PayoutState.SUCCESS, paid.channel_reference)
    assert (paid.order_no, paid.amount, paid.payee_masked) == ("R-1", D("12.34"), f"**** {CARD_NUMBER[-4:]}")
    assert paid.notify_url == NOTIFY_URL
    assert [notify["args"] for notify in notifies_sent] == [[paid.pk, "success"]]
    assert_card_nowhere()


@live
def test_same_order_twice_is_paid_once_and_answered_the_same(bank):
    adapter = bank()

    first = adapter.payout(payout_request("R-2"))
    second = adapter.payout(payout_request("R-2"))

    assert first == second and first.state == PayoutState.SUCCESS
    paid = SandboxPayout.objects.get()
    assert paid.requests == 2 and SandboxHit.objects.count() == 2


@live
def test_payout_the_bank_refuses_is_failed_with_its_code_also_when_asked_again(bank):
    engine.rule_add(protocol="bank", scenario="fail", failure_code="ACCOUNT_FROZEN")
    adapter = bank()

    first = adapter.payout(payout_request("R-3"))
    again = adapter.payout(payout_request("R-3"))

    assert (first.state, first.code) == (PayoutState.FAILED, "ACCOUNT_FROZEN")
    assert again == first and adapter.query_payout("R-3") == first


@live
def test_processing_payout_is_followed_by_the_query_until_it_settles(bank):
    engine.rule_add(protocol="bank", scenario="process")
    adapter = bank()

    accepted = adapter.payout(payout_request("R-4"))
    before = adapter.query_payout("R-4")
    engine.payout_settle(payout_id=SandboxPayout.objects.get().pk, state="success")
    after = adapter.query_payout("R-4")

    assert (accepted.state, before.state, after.state) == ("processing", "processing", "success")
    assert after.channel_reference == accepted.channel_reference


@live
def test_payout_the_bank_returns_after_success_is_returned_by_the_query(bank):
    engine.rule_add(protocol="bank", scenario="return")
    adapter = bank()

    paid = adapter.payout(payout_request("R-5"))
    engine.payout_settle(payout_id=SandboxPayout.objects.get().pk, state="returned")
    returned = adapter.query_payout("R-5")

    assert (paid.state, returned.state, returned.code) == (PayoutState.SUCCESS, PayoutState.RETURNED, "BANK_RETURNED")


@live
def test_query_of_an_order_the_gateway_never_got_is_not_found(bank):
    assert bank().query_payout("R-6").state == PayoutState.NOT_FOUND


@live
@pytest.mark.parametrize(("scenario", "paid"), [("server_error", False), ("timeout", False), ("drop_response", True)])
def test_payout_without_a_readable_answer_is_unknown_and_the_query_tells(bank, scenario, paid):
    engine.rule_add(protocol="bank", scenario=scenario, delay_seconds=1.5)

    with pytest.raises(UnknownOutcome) as raised:
        bank(read_timeout=0.5).payout(payout_request("R-7"))

    assert bank().query_payout("R-7").state == (PayoutState.SUCCESS if paid else PayoutState.NOT_FOUND)
    assert_card_nowhere(raised.value)


@live
def test_answer_signed_by_another_gateway_is_unknown_though_the_sandbox_paid(bank, other_keys):
    trusting_another = bank(gateway_public_key=other_keys["gateway_public_key"])

    with pytest.raises(UnknownOutcome) as raised:
        trusting_another.payout(payout_request("R-8"))

    assert bank().query_payout("R-8").state == PayoutState.SUCCESS
    assert_card_nowhere(raised.value)


@live
def test_answer_tampered_on_the_way_is_unknown_never_success(bank, monkeypatch):
    engine.rule_add(protocol="bank", scenario="fail")
    adapter = bank()
    spy_on(adapter, monkeypatch, alter=lambda body: body.replace(b'"FAILED"', b'"SUCCESS"'))

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request("R-9"))


@live
def test_request_signed_with_another_key_is_refused_and_nothing_is_paid(bank, other_keys):
    forged = bank(merchant_private_key=other_keys["merchant_private_key"])

    result = forged.payout(payout_request("R-10"))

    assert (result.state, result.code) == (PayoutState.FAILED, "SIGN_ERROR")
    assert not SandboxPayout.objects.exists() and not SandboxHit.objects.exists()
    with pytest.raises(UnknownOutcome):
        forged.query_payout("R-10")  # a refused query says nothing of the payout


@live
def test_invalid_card_is_refused_without_paying_or_repeating_it(bank):
    bad_card = CARD_NUMBER[:-1] + str((int(CARD_NUMBER[-1]) + 1) % 10)

    result = bank().payout(payout_request("R-11", card=bad_card))

    assert (result.state, result.code) == (PayoutState.FAILED, "ACCOUNT_INVALID")
    assert not SandboxPayout.objects.exists()
    assert bad_card not in result.message
    assert_card_nowhere(card=bad_card)


# Callbacks to our notify URL.


def sandbox_payout(state: str, **fields) -> SandboxPayout:
    values = {"order_no": "N-1", "channel_reference": "P1", "amount": D("12.34"), "state": state, "failure_code": ""}
    return SandboxPayout(**(values | fields))


def notify_fields(payout: SandboxPayout, secrets: dict) -> dict:
    built = bank_sandbox.notify_build(payout, secrets)
    assert built is not None
    return json.loads(built[1])


@pytest.mark.parametrize(
    ("state", "failure_code", "code"),
    [("success", "", ""), ("failed", "ACCOUNT_FROZEN", "ACCOUNT_FROZEN"), ("returned", "", "BANK_RETURNED")],
)
def test_genuine_callback_is_a_notice(offline, keys, state, failure_code, code):
    built = bank_sandbox.notify_build(sandbox_payout(state, failure_code=failure_code), keys)
    assert built is not None

    notice = offline.parse_payout_notify(headers=built[0], body=built[1])

    assert (notice.order_no, notice.state, notice.amount) == ("N-1", state, D("12.34"))
    assert (notice.channel_reference, notice.code) == ("P1", code)


def test_processing_payout_has_no_callback(keys):
    assert bank_sandbox.notify_build(sandbox_payout("processing"), keys) is None


@pytest.mark.parametrize("tampering", [{"amount": "1234.00"}, {"status": "SUCCESS"}, {"order_no": "N-2"}])
def test_tampered_callback_is_rejected(offline, keys, tampering):
    fields = notify_fields(sandbox_payout("failed", failure_code="X"), keys) | tampering

    with pytest.raises(NotifyRejected, match="signature"):
        offline.parse_payout_notify(headers={}, body=json.dumps(fields).encode())


def test_callback_signed_by_another_gateway_is_rejected(offline, other_keys, keys):
    fields = notify_fields(sandbox_payout("success"), other_keys | {"merchant_id": keys["merchant_id"]})

    with pytest.raises(NotifyRejected, match="signature"):
        offline.parse_payout_notify(headers={}, body=json.dumps(fields).encode())


def test_callback_for_another_merchant_is_rejected(offline, keys):
    fields = notify_fields(sandbox_payout("success"), keys | {"merchant_id": "898000000000001"})

    with pytest.raises(NotifyRejected, match="another merchant"):
        offline.parse_payout_notify(headers={}, body=json.dumps(fields).encode())


def test_stale_callback_is_rejected(offline, keys):
    fields = notify_fields(sandbox_payout("success"), keys)
    fields["timestamp"] = str(int(fields["timestamp"]) - 301)

    with pytest.raises(NotifyRejected, match="timestamp"):
        offline.parse_payout_notify(headers={}, body=gateway_signed(fields, keys))


@pytest.mark.parametrize("body", [b"", b"code=0000", b'"SUCCESS"', b'{"status":"SUCCESS","amount":"1.00"}'])
def test_unreadable_or_unsigned_callback_is_rejected(offline, body):
    with pytest.raises(NotifyRejected):
        offline.parse_payout_notify(headers={}, body=body)


def test_callback_reply_is_code_0000_or_a_retry(offline):
    accepted, refused = offline.notify_reply(accepted=True), offline.notify_reply(accepted=False)

    assert (accepted.status, json.loads(accepted.body)) == (200, {"code": "0000"})
    assert (refused.status, json.loads(refused.body)) == (500, {"code": "9999"})
    assert accepted.content_type == refused.content_type == "application/json"


# Credentials from the environment.

ENVIRONMENT = ("BANK_MERCHANT_ID", "BANK_PRIVATE_KEY", "BANK_GATEWAY_PUBLIC_KEY", "BANK_BASE_URL")


@pytest.fixture
def environment(monkeypatch, keys) -> Callable[..., None]:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    def set_(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def test_no_credentials_means_no_adapter(environment):
    assert adapter_from_environment(read_timeout=1.0) is None


def test_credentials_with_escaped_newlines_configure_the_adapter(environment, keys):
    environment(
        BANK_MERCHANT_ID="898111",
        BANK_PRIVATE_KEY=keys["merchant_private_key"].replace("\n", "\\n"),
        BANK_GATEWAY_PUBLIC_KEY=keys["gateway_public_key"],
        BANK_BASE_URL="https://gateway.example/",
    )

    adapter = adapter_from_environment(read_timeout=1.0)

    assert adapter is not None and adapter.merchant_id == "898111"
    assert adapter.http.base_url == "https://gateway.example"


def test_partial_credentials_name_what_is_missing(environment, keys):
    environment(BANK_MERCHANT_ID="898111", BANK_PRIVATE_KEY=keys["merchant_private_key"])

    with pytest.raises(ImproperlyConfigured, match="BANK_GATEWAY_PUBLIC_KEY, BANK_BASE_URL not set") as raised:
        adapter_from_environment(read_timeout=1.0)

    assert "PRIVATE KEY" not in str(raised.value)


def test_credentials_that_are_not_keys_are_named(environment, keys):
    environment(
        BANK_MERCHANT_ID="898111",
        BANK_PRIVATE_KEY=keys["merchant_public_key"],
        BANK_GATEWAY_PUBLIC_KEY=keys["gateway_public_key"],
        BANK_BASE_URL="https://gateway.example",
    )

    with pytest.raises(ImproperlyConfigured, match="BANK_PRIVATE_KEY is not a PEM RSA key"):
        adapter_from_environment(read_timeout=1.0)
