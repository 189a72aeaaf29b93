"""WeChat Pay v2 enterprise payment to change: the signature against vectors computed here from
the documented algorithm, the XML guard, the configuration, the mapping of every answer onto the
three outcomes, and the adapter against the sandbox over real HTTP."""

import contextlib
import hashlib
import hmac
from dataclasses import replace
from decimal import Decimal

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from payments.channels.base import NotifyRejected, PayoutRequest, PayoutState, RetryableError, UnknownOutcome
from payments.channels.http import ChannelHttp, HttpResponse
from payments.channels.wechat_v2 import WechatV2Adapter, adapter_for_sandbox, adapter_from_environment
from payments.channels.wechat_v2.signing import XmlRefused, params_sign, params_verify, xml_decode, xml_encode
from payments.sandbox import engine
from payments.sandbox import wechat_v2 as sandbox_wechat_v2
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxHit, SandboxPayout

PROTOCOL = "wechat_v2"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
API_KEY = "192006250b4c09247ec02edce69f6a2d"
ENV_NAMES = (
    "WECHAT_V2_MCHID",
    "WECHAT_V2_APPID",
    "WECHAT_V2_API_KEY",
    "WECHAT_V2_CLIENT_CERT",
    "WECHAT_V2_CLIENT_KEY",
    "WECHAT_V2_SIGN_TYPE",
    "WECHAT_V2_BASE_URL",
)
live = pytest.mark.django_db(transaction=True)


def payout_request(order_no: str, amount: str = "12.34", payee_name: str = "") -> PayoutRequest:
    return PayoutRequest(
        order_no=order_no,
        amount=Decimal(amount),
        currency="CNY",
        payee=OPENID,
        payee_name=payee_name,
        bank_code="",
        remark="钱包提现",
        notify_url="",
    )


def md5_by_hand(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324


def hmac_by_hand(text: str, key: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


@pytest.fixture
def sandbox_adapter(live_server):
    def build(*, read_timeout: float = 5.0, **overrides: str) -> WechatV2Adapter:
        secrets = keys_for(PROTOCOL) | overrides
        return adapter_for_sandbox(secrets, base_url=f"{live_server.url}/sandbox/{PROTOCOL}", read_timeout=read_timeout)

    return build


@pytest.fixture
def wire(monkeypatch):
    """Records what an adapter sends; can alter the request after signing or the answer after
    the sandbox signed it, like someone on the path."""

    def spy(adapter: WechatV2Adapter, *, request_alter=None, answer_alter=None) -> list[dict[str, str]]:
        sent: list[dict[str, str]] = []
        send = adapter.http.send

        def send_spied(method, path, *, body=b"", headers):
            body = request_alter(body) if request_alter else body
            sent.append(xml_decode(body))
            response = send(method, path, body=body, headers=headers)
            if answer_alter:
                return HttpResponse(status=response.status, headers=response.headers, body=answer_alter(response.body))
            return response

        monkeypatch.setattr(adapter.http, "send", send_spied)
        return sent

    return spy


@pytest.fixture
def answering(monkeypatch):
    """An adapter whose channel answers ``body`` (for the answers the sandbox never gives)."""

    def build(body: bytes, *, status: int = 200, sign_type: str = "MD5", tls: bool = False) -> WechatV2Adapter:
        adapter = WechatV2Adapter(
            mch_id="10000100",
            appid="wxd930ea5d5a258f4f",
            api_key=API_KEY,
            sign_type=sign_type,
            http=ChannelHttp(base_url="http://channel.invalid", read_timeout=1),
            unsigned_answers_trusted=tls,
        )
        monkeypatch.setattr(
            adapter.http, "send", lambda *args, **kwargs: HttpResponse(status=status, headers={}, body=body)
        )
        return adapter

    return build


def signed(fields: dict[str, str], *, api_key: str = API_KEY, sign_type: str = "MD5") -> bytes:
    return xml_encode(fields | {"sign": params_sign(fields, api_key=api_key, sign_type=sign_type)})


def transfer_failure(err_code: str) -> dict[str, str]:
    return {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": err_code, "err_code_des": "说明"}


def transfer_success(order_no: str = "W1") -> dict[str, str]:
    return {"return_code": "SUCCESS", "result_code": "SUCCESS", "partner_trade_no": order_no, "payment_no": "P1"}


# Signing


def test_md5_signature_is_the_upper_hex_md5_of_the_sorted_non_empty_parameters_and_key():
    params = {"mchid": "10000100", "amount": 1234, "desc": "", "openid": OPENID, "device_info": None, "sign": "X"}

    sign = params_sign(params, api_key=API_KEY, sign_type="MD5")

    assert sign == md5_by_hand(f"amount=1234&mchid=10000100&openid={OPENID}&key={API_KEY}")


def test_hmac_sha256_signature_is_keyed_with_the_api_key_over_the_same_string():
    params = {"sign_type": "HMAC-SHA256", "nonce_str": "abc", "re_user_name": "张三", "desc": ""}

    sign = params_sign(params, api_key=API_KEY, sign_type="HMAC-SHA256")

    assert sign == hmac_by_hand(f"nonce_str=abc&re_user_name=张三&sign_type=HMAC-SHA256&key={API_KEY}", API_KEY)


@pytest.mark.parametrize(
    ("sign_type", "expected"),
    [
        ("MD5", "9A0A8659F005D6984697E2CA0A9CF3B7"),
        ("HMAC-SHA256", "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"),
    ],
)
def test_signature_matches_the_example_in_wechat_documentation(sign_type, expected):
    params = {
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "device_info": "1000",
        "body": "test",
        "nonce_str": "ibuaiVcKdpRxkhJA",
    }

    assert params_sign(params, api_key=API_KEY, sign_type=sign_type) == expected


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_verification_accepts_the_signed_parameters_and_rejects_a_changed_value_or_no_sign(sign_type):
    params = {"partner_trade_no": "W1", "payment_no": "P1"}
    sign = params_sign(params, api_key=API_KEY, sign_type=sign_type)

    assert params_verify(params | {"sign": sign}, api_key=API_KEY, sign_type=sign_type)
    assert not params_verify(params | {"sign": sign, "payment_no": "P2"}, api_key=API_KEY, sign_type=sign_type)
    assert not params_verify(params | {"sign": sign}, api_key="another-key", sign_type=sign_type)
    assert not params_verify(params | {"sign": sign.lower() + "签"}, api_key=API_KEY, sign_type=sign_type)
    assert not params_verify(params, api_key=API_KEY, sign_type=sign_type)


# XML


def test_xml_round_trips_strings_in_cdata_and_integers_bare():
    fields: dict[str, str | int] = {"desc": "提现 <&> ]]> done", "amount": 1234}

    body = xml_encode(fields)

    assert body.startswith(b"<xml><desc><![CDATA[") and b"<amount>1234</amount>" in body
    assert xml_decode(body) == {"desc": "提现 <&> ]]> done", "amount": "1234"}


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "pwned">]><xml><a>&a;</a></xml>',
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>',
        b'<!DOCTYPE xml SYSTEM "http://attacker.invalid/evil.dtd"><xml><a>1</a></xml>',
        b'<!DOCTYPE xml [<!ENTITY a "aa"><!ENTITY b "&a;&a;&a;&a;">]><xml><a>&b;</a></xml>',
    ],
)
def test_xml_with_a_doctype_or_entities_is_refused(body):
    with pytest.raises(XmlRefused):
        xml_decode(body)


@pytest.mark.parametrize(
    "body", [b"<xml><a>1</a><a>2</a></xml>", b"<xml><a><b>1</b></a></xml>", b"<root><a>1</a></root>", b"<xml><a>"]
)
def test_xml_that_is_not_one_flat_document_is_refused(body):
    with pytest.raises(XmlRefused):
        xml_decode(body)


# Configuration


@pytest.fixture
def environment(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_environment_means_no_configured_adapter(environment):
    assert adapter_from_environment(read_timeout=5) is None


def test_partial_environment_names_the_missing_variables(environment):
    environment.setenv("WECHAT_V2_MCHID", "10000100")
    environment.setenv("WECHAT_V2_API_KEY", API_KEY)

    with pytest.raises(ImproperlyConfigured, match="WECHAT_V2_APPID, WECHAT_V2_CLIENT_CERT") as raised:
        adapter_from_environment(read_timeout=5)

    assert API_KEY not in str(raised.value)


def test_full_environment_configures_the_merchant_and_its_client_certificate(environment, tmp_path):
    cert, key = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert.write_text("cert")
    key.write_text("key")
    for name, value in {
        "WECHAT_V2_MCHID": "10000100",
        "WECHAT_V2_APPID": "wxd930ea5d5a258f4f",
        "WECHAT_V2_API_KEY": API_KEY,
        "WECHAT_V2_CLIENT_CERT": str(cert),
        "WECHAT_V2_CLIENT_KEY": str(key),
        "WECHAT_V2_SIGN_TYPE": "HMAC-SHA256",
    }.items():
        environment.setenv(name, value)

    adapter = adapter_from_environment(read_timeout=5)

    assert adapter is not None
    assert (adapter.mch_id, adapter.appid, adapter.sign_type) == ("10000100", "wxd930ea5d5a258f4f", "HMAC-SHA256")
    assert adapter.http.base_url == "https://api.mch.weixin.qq.com"
    assert adapter.http.session.cert == (str(cert), str(key))
    assert adapter.unsigned_answers_trusted  # WeChat's own answers are unsigned; mutual TLS vouches


def test_on_a_mutual_tls_connection_an_unsigned_answer_counts_but_a_forged_sign_never(answering):
    paid = answering(xml_encode(transfer_success()), tls=True).payout(payout_request("W1"))

    assert paid.state == PayoutState.SUCCESS
    with pytest.raises(UnknownOutcome):
        answering(signed(transfer_success(), api_key="k" * 32), tls=True).payout(payout_request("W1"))


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [("WECHAT_V2_SIGN_TYPE", "SHA1", "WECHAT_V2_SIGN_TYPE"), ("WECHAT_V2_CLIENT_CERT", "/nowhere.pem", "not found")],
)
def test_wrong_sign_type_or_missing_certificate_file_is_refused(environment, tmp_path, name, value, complaint):
    cert = tmp_path / "apiclient.pem"
    cert.write_text("cert and key")
    environment.setenv("WECHAT_V2_MCHID", "10000100")
    environment.setenv("WECHAT_V2_APPID", "wxd930ea5d5a258f4f")
    environment.setenv("WECHAT_V2_API_KEY", API_KEY)
    environment.setenv("WECHAT_V2_CLIENT_CERT", str(cert))
    environment.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=complaint):
        adapter_from_environment(read_timeout=5)


# Notifies, amounts, sandbox keys


def test_v2_transfers_have_no_notify_but_the_v2_reply_is_built(answering):
    adapter = answering(b"")

    with pytest.raises(NotifyRejected):
        adapter.parse_payout_notify(headers={}, body=b"<xml></xml>")
    assert adapter.notify_reply(accepted=True).body == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    )
    assert b"<return_code><![CDATA[FAIL]]></return_code>" in adapter.notify_reply(accepted=False).body


@pytest.mark.parametrize(("amount", "currency"), [("1.005", "CNY"), ("0", "CNY"), ("12.34", "USD")])
def test_an_amount_that_is_not_whole_fen_of_cny_is_refused_before_sending(answering, amount, currency):
    adapter = answering(signed(transfer_success()))
    request = payout_request("W1", amount)

    with pytest.raises(ValueError, match="CNY|decimal"):
        adapter.payout(replace(request, currency=currency))


def test_sandbox_keys_are_a_merchant_with_a_32_character_api_key_and_no_notify():
    keys = sandbox_wechat_v2.keys_generate()

    assert len(keys["api_key"]) == 32 and keys["api_key"].isalnum()
    assert keys["appid"].startswith("wx") and keys["mch_id"].isdigit()
    assert keys["sign_type"] in ("MD5", "HMAC-SHA256")
    assert sandbox_wechat_v2.notify_build(SandboxPayout(protocol=PROTOCOL), keys) is None


# Mapping of the channel's answers (answers the sandbox does not produce on its own)


@pytest.mark.parametrize(
    "err_code", ["NOTENOUGH", "NAME_MISMATCH", "AMOUNT_LIMIT", "OPENID_ERROR", "V2_ACCOUNT_SIMPLE_BAN"]
)
def test_a_signed_refusal_is_a_definite_failure_with_its_code(answering, err_code):
    result = answering(signed(transfer_failure(err_code))).payout(payout_request("W1"))

    assert (result.state, result.code, result.message) == (PayoutState.FAILED, err_code, "说明")


@pytest.mark.parametrize("err_code", ["SYSTEMERROR", "SEND_FAILED", "FATAL_ERROR", ""])
def test_an_answer_that_says_query_first_is_unknown(answering, err_code):
    with pytest.raises(UnknownOutcome):
        answering(signed(transfer_failure(err_code))).payout(payout_request("W1"))


def test_frequency_limit_is_retryable(answering):
    with pytest.raises(RetryableError) as raised:
        answering(signed(transfer_failure("FREQ_LIMIT"))).payout(payout_request("W1"))

    assert raised.value.code == "FREQ_LIMIT"


@pytest.mark.parametrize(
    ("return_msg", "code"), [("签名错误", "SIGN_ERROR"), ("invalid sign", "SIGN_ERROR"), ("参数错误", "PARAM_ERROR")]
)
def test_an_unsigned_return_fail_is_a_definite_failure(answering, return_msg, code):
    result = answering(xml_encode({"return_code": "FAIL", "return_msg": return_msg})).payout(payout_request("W1"))

    assert (result.state, result.code, result.message) == (PayoutState.FAILED, code, return_msg)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (xml_encode(transfer_success()), 200),  # unsigned
        (signed(transfer_success(), api_key="k" * 32), 200),  # forged
        (signed(transfer_success(), sign_type="HMAC-SHA256"), 200),  # not the merchant's sign type
        (signed(transfer_success("W2")), 200),  # another order's genuine answer
        (signed({**transfer_success(), "payment_no": ""}), 200),
        (signed({**transfer_success(), "result_code": "MAYBE"}), 200),
        (signed(transfer_success())[:40], 200),
        (b"<html>bad gateway</html>", 200),
        (signed(transfer_success()), 502),
    ],
)
def test_a_success_that_is_unsigned_forged_misaddressed_or_unreadable_is_unknown(answering, body, status):
    with pytest.raises(UnknownOutcome):
        answering(body, status=status).payout(payout_request("W1"))


@pytest.mark.parametrize(
    "body",
    [
        xml_encode({"return_code": "FAIL", "return_msg": "签名错误"}),
        signed(transfer_failure("PARAM_ERROR")),
        signed(transfer_failure("SYSTEMERROR")),
        signed({"return_code": "SUCCESS", "result_code": "SUCCESS", "partner_trade_no": "W1", "status": "LOST"}),
        signed({"return_code": "SUCCESS", "result_code": "SUCCESS", "partner_trade_no": "W2", "status": "FAILED"}),
        signed({"return_code": "SUCCESS", "result_code": "SUCCESS", "partner_trade_no": "W1", "status": "FAILED"})[:-9],
    ],
)
def test_a_query_that_did_not_answer_about_the_order_is_unknown_never_failed(answering, body):
    with pytest.raises(UnknownOutcome):
        answering(body).query_payout("W1")


# Against the sandbox over real HTTP


@live
@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_payout_succeeds_with_a_request_signed_as_documented(sandbox_adapter, wire, sign_type):
    adapter = sandbox_adapter(sign_type=sign_type)
    sent = wire(adapter)

    result = adapter.payout(payout_request("W-OK-1"))

    payout = SandboxPayout.objects.get(protocol=PROTOCOL, order_no="W-OK-1")
    assert (result.state, result.channel_reference) == (PayoutState.SUCCESS, payout.channel_reference)
    assert (payout.amount, payout.payee_masked, payout.requests) == (Decimal("12.34"), "oUp***S6o", 1)
    request = sent[0]
    assert {k: request[k] for k in ("mchid", "mch_appid", "partner_trade_no", "openid", "check_name", "amount")} == {
        "mchid": adapter.mch_id,
        "mch_appid": adapter.appid,
        "partner_trade_no": "W-OK-1",
        "openid": OPENID,
        "check_name": "NO_CHECK",
        "amount": "1234",
    }
    assert request.get("sign_type", "MD5") == sign_type
    text = "&".join(f"{k}={v}" for k, v in sorted(request.items()) if k != "sign" and v) + f"&key={adapter.api_key}"
    expected = md5_by_hand(text) if sign_type == "MD5" else hmac_by_hand(text, adapter.api_key)
    assert request["sign"] == expected


@live
def test_a_payee_name_asks_wechat_to_check_it(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    sent = wire(adapter)

    result = adapter.payout(payout_request("W-NAME-1", payee_name="张三"))

    assert result.state == PayoutState.SUCCESS
    assert (sent[0]["check_name"], sent[0]["re_user_name"]) == ("FORCE_CHECK", "张三")


@live
def test_the_same_order_twice_pays_once_and_answers_the_same_payment_no(sandbox_adapter):
    adapter = sandbox_adapter()

    first = adapter.payout(payout_request("W-TWICE-1"))
    second = adapter.payout(payout_request("W-TWICE-1"))

    payout = SandboxPayout.objects.get(protocol=PROTOCOL, order_no="W-TWICE-1")
    assert first == second
    assert (first.state, first.channel_reference, payout.requests) == (
        PayoutState.SUCCESS,
        payout.channel_reference,
        2,
    )


@live
def test_the_same_order_with_another_amount_is_unknown_and_pays_once(sandbox_adapter):
    adapter = sandbox_adapter()
    adapter.payout(payout_request("W-FATAL-1", "12.34"))

    with pytest.raises(UnknownOutcome) as raised:
        adapter.payout(payout_request("W-FATAL-1", "99.00"))

    assert raised.value.code == "FATAL_ERROR"
    assert SandboxPayout.objects.get(protocol=PROTOCOL, order_no="W-FATAL-1").amount == Decimal("12.34")


@live
def test_a_failure_scenario_is_a_definite_failure_with_its_code(sandbox_adapter):
    engine.rule_add(protocol=PROTOCOL, scenario="fail", order_no="W-FAIL-1", failure_code="NOTENOUGH")

    result = sandbox_adapter().payout(payout_request("W-FAIL-1"))

    assert (result.state, result.code) == (PayoutState.FAILED, "NOTENOUGH")


@live
@pytest.mark.parametrize(
    ("scenario", "afterwards"),
    [
        ("server_error", PayoutState.NOT_FOUND),
        ("timeout", PayoutState.NOT_FOUND),
        ("drop_response", PayoutState.SUCCESS),
    ],
)
def test_no_readable_answer_is_unknown_and_the_query_tells_what_happened(sandbox_adapter, scenario, afterwards):
    engine.rule_add(protocol=PROTOCOL, scenario=scenario, order_no="W-UNK-1", delay_seconds=1.5)
    adapter = sandbox_adapter(read_timeout=0.5)

    with pytest.raises(UnknownOutcome):
        adapter.payout(payout_request("W-UNK-1"))

    assert sandbox_adapter().query_payout("W-UNK-1").state == afterwards


@live
def test_a_slow_answer_within_the_read_timeout_succeeds(sandbox_adapter):
    engine.rule_add(protocol=PROTOCOL, scenario="slow", order_no="W-SLOW-1", delay_seconds=0.3)

    assert sandbox_adapter(read_timeout=5).payout(payout_request("W-SLOW-1")).state == PayoutState.SUCCESS


@live
def test_a_processing_payout_is_unknown_because_v2_answers_systemerror(sandbox_adapter):
    engine.rule_add(protocol=PROTOCOL, scenario="process", order_no="W-PROC-1")

    with pytest.raises(UnknownOutcome) as raised:
        sandbox_adapter().payout(payout_request("W-PROC-1"))

    assert raised.value.code == "SYSTEMERROR"


@live
@pytest.mark.parametrize(
    ("scenario", "state"),
    [("succeed", PayoutState.SUCCESS), ("fail", PayoutState.FAILED), ("process", PayoutState.PROCESSING)],
)
def test_query_reports_the_state_the_sandbox_holds(sandbox_adapter, wire, scenario, state):
    engine.rule_add(protocol=PROTOCOL, scenario=scenario, order_no="W-Q-1", failure_code="NOTENOUGH")
    adapter = sandbox_adapter()
    with contextlib.suppress(UnknownOutcome):  # process is answered SYSTEMERROR
        adapter.payout(payout_request("W-Q-1"))
    sent = wire(adapter)

    result = adapter.query_payout("W-Q-1")

    payout = SandboxPayout.objects.get(protocol=PROTOCOL, order_no="W-Q-1")
    assert result.state == state
    if state == PayoutState.FAILED:
        assert (result.code, result.message) == ("TRANSFER_FAILED", "NOTENOUGH")
    else:
        assert result.channel_reference == payout.channel_reference
    assert set(sent[0]) >= {"nonce_str", "sign", "partner_trade_no", "mch_id", "appid"}


@live
def test_query_of_an_order_the_sandbox_never_got_is_not_found(sandbox_adapter):
    assert sandbox_adapter().query_payout("W-NEVER-1").state == PayoutState.NOT_FOUND


@live
def test_an_adapter_with_another_api_key_never_succeeds_and_nothing_is_paid(sandbox_adapter):
    adapter = sandbox_adapter(api_key="A" * 32)

    with pytest.raises(UnknownOutcome, match="signature"):
        adapter.payout(payout_request("W-KEY-1"))
    with pytest.raises(UnknownOutcome, match="signature"):
        adapter.query_payout("W-KEY-1")

    assert not SandboxPayout.objects.filter(order_no="W-KEY-1").exists()


@live
def test_a_success_answer_tampered_on_the_way_is_unknown_though_the_sandbox_paid(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    wire(adapter, answer_alter=lambda body: body.replace(b"<payment_no><![CDATA[SBX", b"<payment_no><![CDATA[EVL"))

    with pytest.raises(UnknownOutcome, match="signature"):
        adapter.payout(payout_request("W-TAMPER-1"))

    assert sandbox_adapter().query_payout("W-TAMPER-1").state == PayoutState.SUCCESS


@live
def test_a_request_altered_after_signing_fails_with_sign_error_and_nothing_is_paid(sandbox_adapter, wire):
    adapter = sandbox_adapter()
    wire(adapter, request_alter=lambda body: body.replace(b"<amount>1234</amount>", b"<amount>9999</amount>"))

    result = adapter.payout(payout_request("W-ALTER-1"))

    assert (result.state, result.code, result.message) == (PayoutState.FAILED, "SIGN_ERROR", "签名错误")
    assert not SandboxPayout.objects.filter(order_no="W-ALTER-1").exists()
    assert not SandboxHit.objects.filter(order_no="W-ALTER-1").exists()


@live
def test_the_sandbox_refuses_xml_with_entities_and_pays_nothing(live_server):
    body = b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><openid>&x;</openid></xml>'

    response = requests.post(
        f"{live_server.url}/sandbox/{PROTOCOL}/mmpaymkttransfers/promotion/transfers", data=body, timeout=5
    )

    answer = xml_decode(response.content)
    assert (answer["return_code"], answer["return_msg"]) == ("FAIL", "XML格式错误")
    assert params_verify(answer, api_key=keys_for(PROTOCOL)["api_key"], sign_type="MD5")
    assert not SandboxHit.objects.exists()
