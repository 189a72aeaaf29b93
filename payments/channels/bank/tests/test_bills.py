"""The bank gateway's payout bill: the CSV and its TRAILER, read from files written by hand from
docs/RECONCILIATION.md, and its download (a signed GET; the CSV signed in headers, the error as
signed JSON) against a local server playing the gateway."""

import base64
import hashlib
import io
import json
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payments.channels import bills
from payments.channels.bank import BankAdapter, adapter_for_sandbox, signing
from payments.channels.bank.bills import bill_parse
from payments.channels.base import ChannelError, RetryableError, UnknownOutcome
from payments.channels.bills import BillKind, BillLine, BillMalformed, BillNotReady, LineKind, LineStatus
from payments.channels.tests.fake_channel import Answer, FakeChannel, fake_channel_serve  # noqa: F401 - fixture
from payments.sandbox import bank as sandbox_bank

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 12, 6)
D = Decimal

LINES = [
    BillLine(
        line_no=2,
        kind=LineKind.PAYOUT,
        order_no="W20261206000002",
        channel_reference="BP0000000000000001",
        amount=D("12.30"),
        fee=D("0.10"),
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T10:00:07+08:00"),
    ),
    BillLine(
        line_no=3,
        kind=LineKind.PAYOUT,
        order_no="W20261206000003",
        channel_reference="BP0000000000000002",
        amount=D("5.00"),
        fee=D("0.00"),
        status=LineStatus.FAILED,
        occurred_at=datetime.fromisoformat("2026-12-06T10:01:00+08:00"),
    ),
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def refused(data: bytes) -> BillMalformed:
    with pytest.raises(BillMalformed) as raised:
        list(bill_parse(io.BytesIO(data), BillKind.PAYOUT))
    return raised.value


# Reading the bill.


def test_the_bill_of_the_doc_reads_as_its_payouts_in_china_time():
    with (FIXTURES / "payout.csv").open("rb") as stream:
        lines = list(bills.bill_parse("bank", stream, BillKind.PAYOUT))

    assert lines == LINES
    assert str(lines[0].occurred_at.tzinfo) == "Asia/Shanghai"


def test_a_time_at_another_offset_is_the_same_moment_in_china_time():
    data = fixture("payout.csv").replace(b"2026-12-06T10:00:07+08:00", b"2026-12-06T02:00:07+00:00")

    assert list(bill_parse(io.BytesIO(data), BillKind.PAYOUT)) == LINES


def test_the_gateway_has_no_trade_bill():
    with pytest.raises(ValueError, match="no trade bill") as raised:
        bill_parse(io.BytesIO(b""), BillKind.TRADE)

    assert not isinstance(raised.value, BillMalformed)


@pytest.mark.parametrize(
    ("name", "line_no", "reason"),
    [
        ("payout_bad_amount.csv", 2, "amount '12.3' is not a positive amount of yuan with two decimals"),
        ("payout_trailer_fee_wrong.csv", 4, "the TRAILER's fee is 0.20, the detail lines make 0.10"),
        ("payout_no_trailer.csv", 4, "the file ends without its TRAILER line"),
        ("payout_line_after_trailer.csv", 5, "a line after the TRAILER"),
    ],
)
def test_a_file_that_breaks_the_format_is_refused_naming_the_line_and_the_reason(name, line_no, reason):
    error = refused(fixture(name))

    assert (error.line_no, error.reason) == (line_no, reason)


@pytest.mark.parametrize(
    ("old", "new", "line_no", "reason"),
    [
        ("2026-12-06T10:00:07+08:00", "2026-12-06 10:00:07", 2, "finished_at '2026-12-06 10:00:07' is not a time"),
        ("2026-12-06T10:00:07+08:00", "2026-12-32T10:00:07+08:00", 2, "is not a time with its offset"),
        (",0.10,SUCCESS,", ",-0.10,SUCCESS,", 2, "fee '-0.10' is not a positive amount"),
        (",SUCCESS,\n", ",SUCCESS\n", 2, "6 columns where the format has 7"),
        (",FAILED,", ",REFUSED,", 3, "status 'REFUSED' is not SUCCESS, FAILED or RETURNED"),
        (",BP0000000000000001,", ",,", 2, "no payout_id"),
        ("TRAILER,2,", "TRAILER,3,", 4, "the TRAILER's count is 3, the detail lines make 2"),
        ("TRAILER,2,17.30,", "TRAILER,2,17.31,", 4, "the TRAILER's amount is 17.31, the detail lines make 17.30"),
        ("TRAILER,2,17.30,0.10", "TRAILER,2,17.30", 4, "3 columns where the format has 4"),
        ("finished_at,order_no", "time,order_no", 1, "not the header of the bank gateway's payout bill"),
    ],
)
def test_a_bill_edited_out_of_its_format_is_refused_at_the_line(old, new, line_no, reason):
    text = fixture("payout.csv").decode()
    assert old in text

    error = refused(text.replace(old, new, 1).encode())

    assert (error.line_no, reason in error.reason) == (line_no, True), error.reason


# The download: a local server plays the gateway.


@pytest.fixture(scope="module")
def keys() -> dict:
    return sandbox_bank.keys_generate()


@pytest.fixture(scope="module")
def other_keys() -> dict:
    return sandbox_bank.keys_generate()


@pytest.fixture
def bank(fake_channel: FakeChannel, keys) -> BankAdapter:
    return adapter_for_sandbox(keys, base_url=fake_channel.url, read_timeout=2)


def rsa_sign(message: str, private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_bill(body: bytes, keys: dict, *, timestamp: str = "") -> Answer:
    """The CSV with the gateway's signature headers, built by hand as the doc says: the canonical
    string of body_sha256, nonce and timestamp, SHA256withRSA, base64."""
    timestamp = timestamp or str(int(time.time()))
    message = f"body_sha256={hashlib.sha256(body).hexdigest()}&nonce=n0nce&timestamp={timestamp}"
    headers = {
        "Content-Type": "text/csv; charset=utf-8",
        "X-Timestamp": timestamp,
        "X-Nonce": "n0nce",
        "X-Sign": rsa_sign(message, keys["gateway_private_key"]),
    }
    return Answer(headers=headers, body=body)


def signed_error(keys: dict, status: int, code: str, message: str) -> Answer:
    fields = signing.signed(
        {"code": code, "message": message, **signing.stamp_new()},
        signing.private_key_load(keys["gateway_private_key"]),
    )
    return Answer(status=status, headers={"Content-Type": "application/json"}, body=json.dumps(fields).encode())


def test_the_bill_is_asked_for_signed_and_kept_once_the_gateways_headers_sign_it(bank, fake_channel, keys, tmp_path):
    # Given the gateway serves the doc's bill, signed in its headers
    bill = fixture("payout.csv")
    fake_channel.answer("/v1/bills/2026-12-06", signed_bill(bill, keys))

    # When the day's payout bill is downloaded
    download = bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    # Then the request was signed over its query parameters, and the bill kept as it came
    (request,) = fake_channel.received
    params = dict(parse_qsl(urlsplit(request.path).query))
    assert (request.method, urlsplit(request.path).path) == ("GET", "/v1/bills/2026-12-06")
    assert set(params) == {"merchant_id", "timestamp", "nonce", "sign"}
    message = f"merchant_id={keys['merchant_id']}&nonce={params['nonce']}&timestamp={params['timestamp']}"
    assert params["sign"] == rsa_sign(message, keys["merchant_private_key"])  # PKCS#1 v1.5 is deterministic
    assert download.filename == "bank_payout_20261206.csv"
    assert download.path == tmp_path / download.filename
    assert download.path.read_bytes() == bill
    with download.path.open("rb") as stream:
        assert list(bills.bill_parse("bank", stream, BillKind.PAYOUT)) == LINES


def test_a_bill_not_published_yet_is_not_ready_and_leaves_no_file(bank, fake_channel, keys, tmp_path):
    fake_channel.answer("/v1/bills/2026-12-06", signed_error(keys, 404, "3004", "bill not ready"))

    with pytest.raises(BillNotReady) as raised:
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    assert raised.value.code == "3004"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("code", "error"), [("2001", RetryableError), ("1001", ChannelError)])
def test_another_signed_error_is_retried_or_refused(bank, fake_channel, keys, tmp_path, code, error):
    fake_channel.answer("/v1/bills/2026-12-06", signed_error(keys, 400, code, "no"))

    with pytest.raises(error) as raised:
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    assert (type(raised.value), raised.value.code) == (error, code)


def test_an_error_not_signed_by_the_gateway_is_unknown(bank, fake_channel, tmp_path):
    fake_channel.answer("/v1/bills/2026-12-06", Answer(status=404, body=b'{"code":"3004","message":"bill not ready"}'))

    with pytest.raises(UnknownOutcome):
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda bill, keys, other: signed_bill(bill, other), id="key"),
        pytest.param(lambda bill, keys, other: signed_bill(bill.replace(b"12.30", b"21.30"), keys), id="body"),
        pytest.param(
            lambda bill, keys, other: signed_bill(bill, keys, timestamp=str(int(time.time()) - 301)), id="old"
        ),
        pytest.param(lambda bill, keys, other: Answer(body=bill), id="unsigned"),
    ],
)
def test_a_bill_not_signed_by_the_gateway_over_this_body_is_refused_and_leaves_no_file(
    bank, fake_channel, keys, other_keys, tmp_path, forge
):
    # Given a bill signed with another key, over another body, long ago, or not at all
    bill = fixture("payout.csv")
    answer = forge(bill, keys, other_keys)
    fake_channel.answer("/v1/bills/2026-12-06", Answer(answer.status, answer.headers, bill))

    # When it is downloaded, Then it is not believed and nothing is kept
    with pytest.raises(UnknownOutcome):
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_5xx_or_a_body_that_breaks_off_is_unknown_and_leaves_no_file(bank, fake_channel, keys, tmp_path):
    fake_channel.answer("/v1/bills/2026-12-06", Answer(status=502, body=b"bad gateway"))
    with pytest.raises(UnknownOutcome):
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    bill = fixture("payout.csv")
    answer = signed_bill(bill, keys)
    fake_channel.answer("/v1/bills/2026-12-06", Answer(answer.status, answer.headers, bill, cut_at=50))
    with pytest.raises(UnknownOutcome):
        bank.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_the_gateway_down_is_retryable(keys, tmp_path):
    closed = adapter_for_sandbox(keys, base_url="http://127.0.0.1:9", read_timeout=1)

    with pytest.raises(RetryableError):
        closed.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_a_trade_bill_is_never_asked_for(bank, fake_channel, tmp_path):
    with pytest.raises(ValueError, match="no trade bill"):
        bank.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert fake_channel.received == []


def test_a_returned_payout_reads_as_the_payout_and_its_return():
    data = (
        b"finished_at,order_no,payout_id,amount,fee,status,fail_code\n"
        b"2026-12-06T12:00:00+08:00,W20261206000004,BP0000000000000003,12.30,0.10,RETURNED,BANK_RETURNED\n"
        b"TRAILER,1,12.30,0.10\n"
    )

    paid, returned = bill_parse(io.BytesIO(data), BillKind.PAYOUT)

    assert (paid.status, paid.amount, paid.fee) == (LineStatus.SUCCESS, D("12.30"), D("0.10"))
    assert (returned.status, returned.amount, returned.fee) == (LineStatus.RETURNED, D("12.30"), D("0.00"))
    assert paid.order_no == returned.order_no == "W20261206000004"
    assert paid.line_no == returned.line_no == 2
