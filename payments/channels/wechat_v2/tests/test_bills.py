"""WeChat Pay v2's bill download (``downloadbill``, ``downloadfundflow``) against a local server
playing WeChat: the signed XML request, the CSV kept as it comes, the error document instead of
it. The CSVs themselves are v3's (read in wechat_v3/tests/test_bills.py)."""

import hashlib
import hmac
from datetime import date
from pathlib import Path

import pytest

from payments.channels.base import ChannelError, UnknownOutcome
from payments.channels.bills import BillKind, BillNotReady, bill_parse
from payments.channels.http import ChannelHttp
from payments.channels.tests.fake_channel import Answer, FakeChannel, fake_channel_serve  # noqa: F401 - fixture
from payments.channels.wechat_v2 import WechatV2Adapter
from payments.channels.wechat_v2.signing import xml_decode, xml_encode

# The CSVs are the same for v2 and v3: one set of files written from the doc.
FIXTURES = Path(__file__).parents[2] / "wechat_v3" / "tests" / "fixtures"
DAY = date(2026, 12, 6)
API_KEY = "k" * 32
NOT_READY = (
    b"<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg><error_code>20002</error_code></xml>"
)


def merchant(fake_channel: FakeChannel, sign_type: str) -> WechatV2Adapter:
    return WechatV2Adapter(
        mch_id="1900000001",
        appid="wx123",
        api_key=API_KEY,
        sign_type=sign_type,
        http=ChannelHttp(base_url=fake_channel.url, read_timeout=2),
    )


def sign_by_hand(fields: dict[str, str], sign_type: str) -> str:
    """The v2 signature as WeChat documents it, built here rather than by the signing module."""
    text = "&".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "sign" and fields[key])
    message = f"{text}&key={API_KEY}".encode()
    if sign_type == "MD5":
        return hashlib.md5(message).hexdigest().upper()  # noqa: S324 - the merchant's configured v2 sign type
    return hmac.new(API_KEY.encode(), message, hashlib.sha256).hexdigest().upper()


def test_the_trade_bill_is_asked_for_signed_in_the_merchants_sign_type_and_kept_as_it_comes(fake_channel, tmp_path):
    # Given an MD5 merchant, and WeChat answering downloadbill with the doc's trade bill
    bill = (FIXTURES / "trade.csv").read_bytes()
    fake_channel.answer("/pay/downloadbill", Answer(headers={"Content-Type": "text/plain"}, body=bill))

    # When the day's trade bill is downloaded
    download = merchant(fake_channel, "MD5").bill_download(DAY, BillKind.TRADE, tmp_path)

    # Then the request carried the documented fields, MD5-signed, and the CSV is kept as it came
    (request,) = fake_channel.received
    fields = xml_decode(request.body)
    assert (request.method, request.path) == ("POST", "/pay/downloadbill")
    assert set(fields) == {"appid", "mch_id", "nonce_str", "bill_date", "bill_type", "sign_type", "sign"}
    assert (fields["bill_date"], fields["bill_type"], fields["sign_type"]) == ("20261206", "ALL", "MD5")
    assert fields["sign"] == sign_by_hand(fields, "MD5")
    assert download.filename == "wechat_v2_trade_20261206.csv"
    assert download.path == tmp_path / download.filename
    assert download.path.read_bytes() == bill
    with download.path.open("rb") as stream:
        assert [line.order_no for line in bill_parse("wechat_v2", stream, BillKind.TRADE)] == [
            "P20261206000001",
            "R20261206000001",
        ]


def test_the_fund_flow_is_always_signed_with_hmac_sha256(fake_channel, tmp_path):
    bill = (FIXTURES / "fund_flow.csv").read_bytes()
    fake_channel.answer("/pay/downloadfundflow", Answer(body=bill))

    download = merchant(fake_channel, "MD5").bill_download(DAY, BillKind.PAYOUT, tmp_path)

    fields = xml_decode(fake_channel.received[0].body)
    assert fake_channel.paths() == ["/pay/downloadfundflow"]
    assert (fields["account_type"], fields["sign_type"]) == ("Basic", "HMAC-SHA256")
    assert fields["sign"] == sign_by_hand(fields, "HMAC-SHA256")
    assert download.path.read_bytes() == bill


@pytest.mark.parametrize("kind", [BillKind.TRADE, BillKind.PAYOUT])
def test_error_20002_is_a_bill_not_published_yet_and_leaves_no_file(fake_channel, tmp_path, kind):
    for path in ("/pay/downloadbill", "/pay/downloadfundflow"):
        fake_channel.answer(path, Answer(headers={"Content-Type": "text/xml"}, body=NOT_READY))

    with pytest.raises(BillNotReady) as raised:
        merchant(fake_channel, "HMAC-SHA256").bill_download(DAY, kind, tmp_path)

    assert raised.value.code == "20002"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"return_code": "FAIL", "return_msg": "invalid bill_date", "error_code": "20001"}, "20001"),
        ({"return_code": "FAIL", "return_msg": "签名错误"}, "SIGN_ERROR"),
    ],
)
def test_any_other_error_document_is_a_refusal_with_its_code(fake_channel, tmp_path, fields, code):
    fake_channel.answer("/pay/downloadbill", Answer(body=b"\n" + xml_encode(fields)))

    with pytest.raises(ChannelError) as raised:
        merchant(fake_channel, "MD5").bill_download(DAY, BillKind.TRADE, tmp_path)

    assert (type(raised.value), raised.value.code) == (ChannelError, code)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "answer", [Answer(status=500, body=b"busy"), Answer(body=b"<xml><broken"), Answer(body=b"x" * 100, cut_at=10)]
)
def test_a_5xx_an_unreadable_error_or_a_body_that_breaks_off_is_unknown_and_leaves_no_file(
    fake_channel, tmp_path, answer
):
    fake_channel.answer("/pay/downloadbill", answer)

    with pytest.raises(UnknownOutcome):
        merchant(fake_channel, "MD5").bill_download(DAY, BillKind.TRADE, tmp_path)

    assert list(tmp_path.iterdir()) == []
