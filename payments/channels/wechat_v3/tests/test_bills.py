"""WeChat Pay's bills: the trade bill and fund flow CSVs v3 and v2 share, read from files written
by hand from docs/RECONCILIATION.md, and v3's download (signed request, platform-signed answer,
signed GET of the gzip, SHA1) against a local server playing WeChat."""

import base64
import gzip
import hashlib
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payments.channels import bills
from payments.channels.base import ChannelError, UnknownOutcome
from payments.channels.bills import BillKind, BillLine, BillMalformed, BillNotReady, LineKind, LineStatus
from payments.channels.tests.fake_channel import Answer, FakeChannel, fake_channel_serve  # noqa: F401 - fixture
from payments.channels.wechat_bills import bill_parse
from payments.channels.wechat_v3 import WechatV3Adapter, adapter_for_sandbox, signing
from payments.sandbox import wechat_v3 as sandbox_wechat_v3

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 12, 6)
D = Decimal

TRADE_LINES = [
    BillLine(
        line_no=2,
        kind=LineKind.PAYMENT,
        order_no="P20261206000001",
        channel_reference="4200000001202612060000000001",
        amount=D("100.00"),
        fee=D("0.60"),
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T10:00:05+08:00"),
    ),
    BillLine(
        line_no=3,
        kind=LineKind.REFUND,
        order_no="R20261206000001",
        channel_reference="50000001",
        amount=D("10.00"),
        fee=D("-0.06"),
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T11:00:00+08:00"),
        parent_no="P20261206000001",
    ),
]
FUND_FLOW_LINES = [
    BillLine(
        line_no=2,
        kind=LineKind.PAYOUT,
        order_no="W20261206000001",
        channel_reference="1330000000000000000000000001",
        amount=D("12.30"),
        fee=None,
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T10:00:07+08:00"),
    ),
    BillLine(
        line_no=3,
        kind=LineKind.PAYOUT,
        order_no="W20261206000001",
        channel_reference="1330000000000000000000000001",
        amount=D("12.30"),
        fee=None,
        status=LineStatus.RETURNED,
        occurred_at=datetime.fromisoformat("2026-12-06T12:00:00+08:00"),
    ),
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parsed(data: bytes, kind: BillKind = BillKind.TRADE) -> list[BillLine]:
    return list(bill_parse(io.BytesIO(data), kind))


def refused(data: bytes, kind: BillKind = BillKind.TRADE) -> BillMalformed:
    with pytest.raises(BillMalformed) as raised:
        parsed(data, kind)
    return raised.value


def edited(name: str, old: str, new: str) -> bytes:
    text = fixture(name).decode("utf-8-sig")
    assert old in text
    return text.replace(old, new, 1).encode()


# Reading the trade bill and the fund flow.


def test_the_trade_bill_of_the_doc_reads_as_a_payment_and_its_refund_in_china_time():
    # Given the doc's trade bill: a byte order mark, \r\n, back-ticks, the summary
    # When it is read
    lines = parsed(fixture("trade.csv"))

    # Then a collected payment and its refund, each with its fee, at their China times
    assert lines == TRADE_LINES
    assert {str(line.occurred_at.tzinfo) for line in lines} == {"Asia/Shanghai"}


def test_the_same_bill_without_its_byte_order_mark_with_bare_newlines_or_gzipped_reads_the_same():
    plain = fixture("trade.csv").removeprefix(b"\xef\xbb\xbf")

    assert parsed(plain) == TRADE_LINES
    assert parsed(plain.replace(b"\r\n", b"\n")) == TRADE_LINES
    assert parsed(fixture("trade.csv.gz")) == TRADE_LINES


def test_the_fund_flow_reads_as_a_payout_paid_and_the_same_payout_returned_without_fees():
    assert parsed(fixture("fund_flow.csv"), BillKind.PAYOUT) == FUND_FLOW_LINES


def test_the_dispatcher_reads_a_bill_in_the_format_of_either_wechat_adapter():
    for adapter in ("wechat_v3", "wechat_v2"):
        assert list(bills.bill_parse(adapter, io.BytesIO(fixture("fund_flow.csv")), BillKind.PAYOUT)) == FUND_FLOW_LINES


@pytest.mark.parametrize(
    ("state", "refund_state", "kind", "status"),
    [
        ("CLOSED", "", LineKind.PAYMENT, LineStatus.FAILED),
        ("REVOKED", "", LineKind.PAYMENT, LineStatus.FAILED),
        ("PAYERROR", "", LineKind.PAYMENT, LineStatus.FAILED),
        ("NOTPAY", "", LineKind.PAYMENT, LineStatus.PROCESSING),
        ("USERPAYING", "", LineKind.PAYMENT, LineStatus.PROCESSING),
        ("REFUND", "PROCESSING", LineKind.REFUND, LineStatus.PROCESSING),
        ("REFUND", "REFUNDCLOSE", LineKind.REFUND, LineStatus.FAILED),
        ("REFUND", "CHANGE", LineKind.REFUND, LineStatus.FAILED),
    ],
)
def test_each_trade_state_has_its_kind_and_status(state, refund_state, kind, status):
    # Given the refund line of the doc's bill in another state
    refund_line = "`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000001,`R20261206000001,`10.00,`0.00,`ORIGINAL,`SUCCESS"
    state_line = refund_line.replace("`REFUND", f"`{state}").replace("`SUCCESS", f"`{refund_state}")
    data = edited("trade.csv", refund_line, state_line)

    line = parsed(data)[1]

    assert (line.kind, line.status) == (kind, status)


def test_a_payment_not_collected_counts_its_order_amount():
    data = edited("trade.csv", "`SUCCESS,`OTHERS,`CNY,`100.00", "`CLOSED,`OTHERS,`CNY,`0.00")
    data = data.replace(b"`2,`100.00,`10.00", b"`2,`0.00,`10.00")

    payment = parsed(data)[0]

    assert (payment.amount, payment.status) == (D("100.00"), LineStatus.FAILED)


# Files that break the format: the line, and the reason.


@pytest.mark.parametrize(
    ("name", "kind", "line_no", "reason"),
    [
        ("trade_bad_amount.csv", BillKind.TRADE, 2, "应结订单金额 '100.0' is not a positive amount"),
        ("trade_summary_fee_wrong.csv", BillKind.TRADE, 5, "手续费总金额 is 0.60, the detail lines make 0.54"),
        ("trade_no_summary.csv", BillKind.TRADE, 4, "the file ends without its summary"),
        ("trade_line_after_summary.csv", BillKind.TRADE, 6, "a line after the summary"),
        ("fund_flow_summary_count_wrong.csv", BillKind.PAYOUT, 5, "收入笔数 is 0, the detail lines make 1"),
        ("trade.csv", BillKind.PAYOUT, 1, "not the header of a WeChat Pay fund flow bill"),
        ("fund_flow.csv", BillKind.TRADE, 1, "not the header of a WeChat Pay trade bill"),
    ],
)
def test_a_file_that_breaks_the_format_is_refused_naming_the_line_and_the_reason(name, kind, line_no, reason):
    error = refused(fixture(name), kind)

    assert error.line_no == line_no
    assert reason in error.reason


@pytest.mark.parametrize(
    ("old", "new", "line_no", "reason"),
    [
        ("`2026-12-06 10:00:05", "`2026-02-30 10:00:05", 2, "交易时间 '2026-02-30 10:00:05' is not a time"),
        ("`2026-12-06 10:00:05", "`2026/12/06 10:00:05", 2, "is not a time"),
        ("`0.60,`0.60%", "`0.6,`0.60%", 2, "手续费 '0.6' is not an amount"),
        ("`-0.06,", "`−0.06,", 3, "手续费 '−0.06' is not an amount"),
        ("`10.00,`0.00,`ORIGINAL", "`1e1,`0.00,`ORIGINAL", 3, "退款金额 '1e1'"),
        ("`0.60%,`100.00,`0.00,`\r\n", "`0.60%,`100.00,`0.00\r\n", 2, "26 columns where the format has 27"),
        (
            "`wx123,`1900000001,`0,`,`4200000001202612060000000001,`P",
            "wx123,`1900000001,`0,`,`4200000001202612060000000001,`P",
            2,
            "column 2 does not start with a back-tick",
        ),  # fmt: skip
        ("`NATIVE,`SUCCESS", "`NATIVE,`PAID", 2, "交易状态 'PAID' is not a trade state"),
        ("`ORIGINAL,`SUCCESS", "`ORIGINAL,`DONE", 3, "退款状态 'DONE' is not a refund state"),
        ("`P20261206000001,`o***x,`NATIVE,`SUCCESS", "`,`o***x,`NATIVE,`SUCCESS", 2, "no 商户订单号"),
        ("`R20261206000001", "`", 3, "no 商户退款单号"),
        ("`2,`100.00", "`3,`100.00", 5, "总交易单数 is 3, the detail lines make 2"),
        ("`2,`100.00", "`two,`100.00", 5, "总交易单数 'two' is not a count"),
        ("`200.00,`10.00", "`300.00,`10.00", 5, "订单总金额 is 300.00, the detail lines make 200.00"),
        ("`10.00,`0.00,`0.54", "`11.00,`0.00,`0.54", 5, "退款总金额 is 11.00"),
        ("总交易单数,应结订单总金额", "总笔数,应结订单总金额", 4, "7 columns where the format has 27"),
    ],
)
def test_a_trade_bill_edited_out_of_its_format_is_refused_at_the_line(old, new, line_no, reason):
    error = refused(edited("trade.csv", old, new))

    assert (error.line_no, reason in error.reason) == (line_no, True), error.reason


@pytest.mark.parametrize(
    ("old", "new", "line_no", "reason"),
    [
        ("`支出,", "`转出,", 2, "收支类型 '转出' is neither 收入 nor 支出"),
        ("`退款,`收入", "`充值,`收入", 3, "收入 of 业务类型 '充值' is not a returned payout"),
        ("`12.30,`9987.70", "`-12.30,`9987.70", 2, "收支金额（元） '-12.30' is not a positive amount"),
        ("`2,`1,`12.30,`1,`12.30", "`2,`1,`12.30,`1,`12.31", 5, "支出金额 is 12.31, the detail lines make 12.30"),
        ("`,`W20261206000001\n", "`,`\n", 2, "no 业务凭证号"),
    ],
)
def test_a_fund_flow_edited_out_of_its_format_is_refused_at_the_line(old, new, line_no, reason):
    error = refused(edited("fund_flow.csv", old, new), BillKind.PAYOUT)

    assert (error.line_no, reason in error.reason) == (line_no, True), error.reason


def test_a_summary_that_disagrees_is_known_only_after_every_line_was_read():
    # Given a bill whose summary's fee total is wrong
    lines = bill_parse(io.BytesIO(fixture("trade_summary_fee_wrong.csv")), BillKind.TRADE)

    # When it is read line by line, Then both lines come before the refusal
    assert [next(lines).line_no, next(lines).line_no] == [2, 3]
    with pytest.raises(BillMalformed, match="line 5: 手续费总金额"):
        next(lines)


def test_bytes_that_are_not_utf8_or_a_gzip_cut_short_are_refused():
    not_utf8 = fixture("trade.csv").replace(b"Recharge", b"Re\xffcharge", 2)
    cut = fixture("trade.csv.gz")[:-20]

    assert (refused(not_utf8).line_no, refused(not_utf8).reason) == (2, "not UTF-8 text")
    assert "damaged or cut short" in refused(cut).reason
    assert refused(b"").reason == "the file ends without its header"


# The download: a local server plays WeChat's API and its download host.


@pytest.fixture(scope="module")
def keys() -> dict:
    return sandbox_wechat_v3.keys_generate()


@pytest.fixture(scope="module")
def other_keys() -> dict:
    return sandbox_wechat_v3.keys_generate()


@pytest.fixture
def wechat(fake_channel: FakeChannel, keys) -> WechatV3Adapter:
    return adapter_for_sandbox(keys, base_url=fake_channel.url, read_timeout=2)


def platform_signed(keys: dict, status: int, payload: dict) -> Answer:
    body = json.dumps(payload).encode()
    private_key = signing.private_key_load(keys["platform_private_key"])
    headers = signing.wechatpay_headers_create(private_key=private_key, serial=keys["platform_serial"], body=body)
    return Answer(status=status, headers={"Content-Type": "application/json", **headers}, body=body)


def bill_published(
    channel: FakeChannel, keys: dict, bill: bytes, *, hash_of: bytes = b"", signed_by: dict | None = None, **download
) -> None:
    """WeChat names the bill's SHA1 (or ``hash_of``'s) and URL, signed (by ``signed_by``'s
    platform key); the URL serves the bill gzipped."""
    url = f"{channel.url}/v3/billdownload/file?token=t0k%2Fen"
    sha1 = hashlib.sha1(hash_of or bill).hexdigest()  # noqa: S324 - WeChat's hash
    answer = platform_signed(signed_by or keys, 200, {"hash_type": "SHA1", "hash_value": sha1, "download_url": url})
    for path in ("/v3/bill/tradebill", "/v3/bill/fundflowbill"):
        channel.answer(path, answer)
    channel.answer("/v3/billdownload/file", Answer(body=gzip.compress(bill), **download))


def assert_signed_by_merchant(request, keys: dict) -> None:
    """The request's Authorization is the merchant's signature of its method, path and query
    (raises InvalidSignature otherwise)."""
    fields = signing.authorization_parse(request.headers["Authorization"])
    assert fields is not None
    assert (fields["mchid"], fields["serial_no"]) == (keys["mchid"], keys["merchant_serial"])
    message = f"{request.method}\n{request.path}\n{fields['timestamp']}\n{fields['nonce_str']}\n\n".encode()
    public_key = serialization.load_pem_public_key(keys["merchant_public_key"].encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256())


def test_a_published_trade_bill_is_fetched_gunzipped_and_kept_once_its_sha1_holds(wechat, fake_channel, keys, tmp_path):
    # Given WeChat publishes the doc's trade bill
    bill = fixture("trade.csv")
    bill_published(fake_channel, keys, bill)

    # When the day's trade bill is downloaded
    download = wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    # Then the bill was asked for and fetched, both requests signed, and only the plain CSV is kept
    asked, fetched = fake_channel.received
    assert asked.method == "GET" and asked.path == "/v3/bill/tradebill?bill_date=2026-12-06&bill_type=ALL&tar_type=GZIP"
    assert fetched.method == "GET" and fetched.path == "/v3/billdownload/file?token=t0k%2Fen"
    assert_signed_by_merchant(asked, keys)
    assert_signed_by_merchant(fetched, keys)
    assert (download.path, download.filename) == (
        tmp_path / "wechat_v3_trade_20261206.csv",
        "wechat_v3_trade_20261206.csv",
    )
    assert download.path.read_bytes() == bill
    assert list(tmp_path.iterdir()) == [download.path]
    with download.path.open("rb") as stream:
        assert list(bills.bill_parse("wechat_v3", stream, BillKind.TRADE)) == TRADE_LINES


def test_the_fund_flow_is_asked_for_the_basic_account(wechat, fake_channel, keys, tmp_path):
    bill_published(fake_channel, keys, fixture("fund_flow.csv"))

    download = wechat.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    query = urlsplit(fake_channel.received[0].path)
    assert (query.path, query.query) == (
        "/v3/bill/fundflowbill",
        "bill_date=2026-12-06&account_type=BASIC&tar_type=GZIP",
    )
    assert download.filename == "wechat_v3_payout_20261206.csv"


def test_a_bill_whose_sha1_is_not_the_one_wechat_signed_is_refused_and_nothing_is_kept(
    wechat, fake_channel, keys, tmp_path
):
    # Given WeChat names the SHA1 of another file than the one its URL serves
    bill_published(fake_channel, keys, fixture("trade.csv"), hash_of=fixture("trade_bad_amount.csv"))

    # When it is downloaded, Then it is refused and no file stays behind
    with pytest.raises(ChannelError) as raised:
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert raised.value.code == "BILL_HASH_MISMATCH"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", ["NO_STATEMENT_EXIST", "STATEMENT_CREATING"])
def test_a_bill_not_published_yet_is_not_ready_and_nothing_is_fetched(wechat, fake_channel, keys, tmp_path, code):
    fake_channel.answer("/v3/bill/tradebill", platform_signed(keys, 400, {"code": code, "message": "账单不存在"}))

    with pytest.raises(BillNotReady) as raised:
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert raised.value.code == code
    assert fake_channel.paths() == ["/v3/bill/tradebill"]
    assert list(tmp_path.iterdir()) == []


def test_an_answer_not_signed_by_the_platform_key_is_never_followed(wechat, fake_channel, keys, other_keys, tmp_path):
    # Given an answer naming a URL and SHA1, signed with another key under our platform serial
    forger = other_keys | {"platform_serial": keys["platform_serial"]}
    bill_published(fake_channel, keys, fixture("trade.csv"), signed_by=forger)

    # When the bill is downloaded, Then the answer is not believed and its URL never fetched
    with pytest.raises(UnknownOutcome, match="not verified"):
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert fake_channel.paths() == ["/v3/bill/tradebill"]
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_is_not_gzip_or_breaks_off_leaves_no_file(wechat, fake_channel, keys, tmp_path):
    bill_published(fake_channel, keys, fixture("trade.csv"))
    fake_channel.answer("/v3/billdownload/file", Answer(body=b"<html>expired</html>"))
    with pytest.raises(ChannelError) as raised:
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)
    assert raised.value.code == "BILL_DAMAGED"

    bill_published(fake_channel, keys, fixture("trade.csv"), cut_at=100)
    with pytest.raises(UnknownOutcome):
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_refusal_other_than_not_ready_is_a_channel_error(wechat, fake_channel, keys, tmp_path):
    fake_channel.answer("/v3/bill/tradebill", platform_signed(keys, 400, {"code": "PARAM_ERROR", "message": "日期"}))

    with pytest.raises(ChannelError) as raised:
        wechat.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert (type(raised.value), raised.value.code) == (ChannelError, "PARAM_ERROR")
