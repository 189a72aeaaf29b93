"""Alipay's trade bill: the zip of two GBK CSVs, read from files written by hand from
docs/RECONCILIATION.md, and its download (the signed ``bill.downloadurl.query``, then the zip)
against a local server playing Alipay."""

import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from payments.channels import bills
from payments.channels.alipay import AlipayAdapter, adapter_for_sandbox, signing
from payments.channels.alipay.bills import bill_parse
from payments.channels.base import ChannelError, UnknownOutcome
from payments.channels.bills import BillKind, BillLine, BillMalformed, BillNotReady, LineKind, LineStatus
from payments.channels.tests.fake_channel import Answer, FakeChannel, fake_channel_serve  # noqa: F401 - fixture
from payments.sandbox import alipay as sandbox_alipay

FIXTURES = Path(__file__).parent / "fixtures"
BILL_ZIP = "20880000000000000156_20261206.csv.zip"
DETAIL = "20880000000000000156_20261206_业务明细.csv"
SUMMARY = "20880000000000000156_20261206_业务明细(汇总).csv"
DAY = date(2026, 12, 6)
D = Decimal
NODE = "alipay_data_dataservice_bill_downloadurl_query_response"

LINES = [
    BillLine(
        line_no=6,
        kind=LineKind.PAYMENT,
        order_no="P20261206000002",
        channel_reference="2026120622001400000000000001",
        amount=D("50.00"),
        fee=D("0.30"),
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T10:00:01+08:00"),
    ),
    BillLine(
        line_no=7,
        kind=LineKind.REFUND,
        order_no="R20261206000002",
        channel_reference="2026120622001400000000000001",
        amount=D("5.00"),
        fee=D("-0.03"),
        status=LineStatus.SUCCESS,
        occurred_at=datetime.fromisoformat("2026-12-06T15:00:00+08:00"),
        parent_no="P20261206000002",
    ),
]


def member_text(name: str) -> str:
    """A member's hand-written text (the fixture is GBK, as in the zip)."""
    return (FIXTURES / name).read_bytes().decode("gbk")


def zip_of(detail: str, summary: str) -> bytes:
    """A bill zip built here, its names flagged UTF-8 as Python writes them (Alipay's are GBK)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bill:
        bill.writestr(DETAIL, detail.encode("gbk"))
        bill.writestr(SUMMARY, summary.encode("gbk"))
    return archive.getvalue()


def edited(member: str, old: str, new: str) -> bytes:
    texts = {"detail.csv": member_text("detail.csv"), "summary.csv": member_text("summary.csv")}
    assert old in texts[member]
    texts[member] = texts[member].replace(old, new, 1)
    return zip_of(texts["detail.csv"], texts["summary.csv"])


def refused(data: bytes) -> BillMalformed:
    with pytest.raises(BillMalformed) as raised:
        list(bill_parse(io.BytesIO(data), BillKind.TRADE))
    return raised.value


# Reading the bill.


def test_the_bill_of_the_doc_reads_as_a_payment_and_its_refund_with_alipays_fee_given_as_ours():
    # Given the doc's zip: GBK member names without the UTF-8 flag, GBK text, padded fields
    with (FIXTURES / BILL_ZIP).open("rb") as stream:
        # When it is read through the dispatcher
        lines = list(bills.bill_parse("alipay", stream, BillKind.TRADE))

    # Then the payment and the refund of the detail member, by their lines there
    assert lines == LINES


def test_a_zip_whose_names_are_flagged_utf8_reads_the_same():
    assert (
        list(bill_parse(io.BytesIO(zip_of(member_text("detail.csv"), member_text("summary.csv"))), BillKind.TRADE))
        == LINES
    )


# Files that break the format: the member, the line and the reason.


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.csv.zip", "not a zip archive, or one cut short"),
        ("missing_summary.csv.zip", "the zip holds 0 members named *_业务明细(汇总).csv, not one"),
    ],
)
def test_a_zip_cut_short_or_missing_a_member_is_refused_as_a_whole(name, reason):
    error = refused((FIXTURES / name).read_bytes())

    assert (error.line_no, error.reason) == (0, reason)


def test_a_zip_with_a_member_besides_the_two_is_refused():
    archive = io.BytesIO(zip_of(member_text("detail.csv"), member_text("summary.csv")))
    with zipfile.ZipFile(archive, "a") as bill:
        bill.writestr("readme.txt", b"hello")

    assert refused(archive.getvalue()).reason == "the zip holds 3 members, not the detail and its summary only"


@pytest.mark.parametrize(
    ("member", "old", "new", "line_no", "reason"),
    [
        ("detail.csv", ",50.00,50.00,", ",50.00,50.0,", 6, "商家实收（元） '50.0' is not an amount"),
        ("detail.csv", ",-0.30,", ",0.30-,", 6, "服务费（元） '0.30-' is not an amount"),
        ("detail.csv", "2026-12-06 15:00:00", "2026-12-06 25:00:00", 7, "完成时间 '2026-12-06 25:00:00' is not a time"),
        ("detail.csv", ",0.00,0.00,,-0.30,0.00,", ",0.00,0.00,,-0.30,", 6, "24 columns where the format has 25"),
        ("detail.csv", ",交易\t,", ",在线支付\t,", 6, "业务类型 '在线支付' is neither 交易 nor 退款"),
        ("detail.csv", ",50.00,-5.00,", ",50.00,5.00,", 7, "a 退款 line whose 商家实收 is 5.00"),
        ("detail.csv", "R20261206000002", "", 7, "no 退款批次号/请求号"),
        ("detail.csv", "交易合计：1笔", "交易合计：2笔", 9, "交易合计 is 2, the detail lines make 1"),
        ("detail.csv", "#交易合计：1笔，退款合计：1笔", "#合计", 11, "ends without #交易合计"),
        ("detail.csv", "#导出时间", "2026\n#导出时间", 10, "a line after the closing comments"),
        ("detail.csv", "支付宝交易号,", "交易号,", 5, "not the header of this member"),
        ("summary.csv", ",合计,1,1,", ",合计,2,1,", 6, "交易订单总笔数 is 2, the detail lines make 1"),
        ("summary.csv", ",45.00,0.00,0.00,0.00,-0.27,0.00,44.73", ",46.00,0.00,0.00,0.00,-0.27,0.00,45.73", 6,
         "商家实收（元） is 46.00, the detail lines make 45.00"),
        ("summary.csv", ",-0.27,0.00,44.73", ",-0.28,0.00,44.72", 6, "服务费（元） is -0.28, the detail lines make"),
        ("summary.csv", ",44.73", ",44.74", 6, "实收净额 44.74 is not 商家实收 plus 服务费 (44.73)"),
        ("summary.csv", ",合计,", ",小计,", 7, "no 合计 row"),
    ],
)  # fmt: skip
def test_a_member_edited_out_of_its_format_is_refused_naming_the_member_and_line(member, old, new, line_no, reason):
    error = refused(edited(member, old, new))

    assert error.line_no == line_no
    assert error.reason.startswith(DETAIL if member == "detail.csv" else SUMMARY), error.reason
    assert reason in error.reason, error.reason


def test_bytes_that_are_not_gbk_are_refused_at_their_line():
    detail = member_text("detail.csv").encode("gbk").replace(b"Order 42", b"Order \xff", 1)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bill:
        bill.writestr(DETAIL, detail)
        bill.writestr(SUMMARY, member_text("summary.csv").encode("gbk"))

    assert (refused(archive.getvalue()).line_no, refused(archive.getvalue()).reason) == (6, f"{DETAIL}: not GBK text")


# The download: a local server plays Alipay's gateway and its download host.


@pytest.fixture(scope="module")
def secrets() -> dict:
    return sandbox_alipay.keys_generate()


@pytest.fixture(scope="module")
def other_secrets() -> dict:
    return sandbox_alipay.keys_generate()


@pytest.fixture
def alipay(fake_channel: FakeChannel, secrets) -> AlipayAdapter:
    return adapter_for_sandbox(secrets, base_url=fake_channel.url, read_timeout=2)


def gateway_answers(channel: FakeChannel, secrets: dict, payload: dict) -> None:
    body = signing.answer_create(signing.private_key_load(secrets["alipay_private_key"]), NODE, payload)
    channel.answer("/gateway.do", Answer(headers={"Content-Type": "application/json"}, body=body.encode()))


def bill_published(channel: FakeChannel, secrets: dict, body: bytes, signed_by: dict | None = None) -> None:
    url = f"{channel.url}/downloads/trade.csv.zip?token=t0k"
    gateway_answers(channel, signed_by or secrets, {"code": "10000", "msg": "Success", "bill_download_url": url})
    channel.answer("/downloads/trade.csv.zip", Answer(headers={"Content-Type": "application/zip"}, body=body))


def test_the_trade_bill_is_asked_for_signed_and_its_zip_kept_as_it_comes(alipay, fake_channel, secrets, tmp_path):
    # Given Alipay publishes the doc's bill
    bill = (FIXTURES / BILL_ZIP).read_bytes()
    bill_published(fake_channel, secrets, bill)

    # When the day's trade bill is downloaded
    download = alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    # Then the URL was asked for with an RSA2-signed gateway call, and the zip kept byte for byte
    asked, fetched = fake_channel.received
    params = dict(parse_qsl(asked.body.decode()))
    assert (asked.method, params["method"], params["sign_type"]) == (
        "POST",
        "alipay.data.dataservice.bill.downloadurl.query",
        "RSA2",
    )
    assert json.loads(params["biz_content"]) == {"bill_type": "trade", "bill_date": "2026-12-06"}
    app_key = signing.public_key_load(secrets["app_public_key"])
    content = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "sign")
    assert signing.signature_valid(app_key, content, params["sign"])
    assert (fetched.method, fetched.path) == ("GET", "/downloads/trade.csv.zip?token=t0k")
    assert download.filename == f"{secrets['seller_id']}_20261206.csv.zip"
    assert download.path == tmp_path / download.filename
    assert download.path.read_bytes() == bill
    with download.path.open("rb") as stream:
        assert list(bills.bill_parse("alipay", stream, BillKind.TRADE)) == LINES


def test_a_bill_not_published_yet_is_not_ready_and_nothing_is_fetched(alipay, fake_channel, secrets, tmp_path):
    gateway_answers(
        fake_channel,
        secrets,
        {"code": "40004", "msg": "Business Failed", "sub_code": "isp.bill_not_exist", "sub_msg": "账单不存在"},
    )

    with pytest.raises(BillNotReady) as raised:
        alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert raised.value.code == "isp.bill_not_exist"
    assert fake_channel.paths() == ["/gateway.do"]
    assert list(tmp_path.iterdir()) == []


def test_another_refusal_is_a_channel_error_and_a_system_error_unknown(alipay, fake_channel, secrets, tmp_path):
    gateway_answers(fake_channel, secrets, {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-date"})
    with pytest.raises(ChannelError) as refusal:
        alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    gateway_answers(fake_channel, secrets, {"code": "20000", "msg": "Service Currently Unavailable"})
    with pytest.raises(UnknownOutcome):
        alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert (type(refusal.value), refusal.value.code) == (ChannelError, "isv.invalid-date")


def test_an_answer_not_signed_by_alipay_is_never_followed(alipay, fake_channel, secrets, other_secrets, tmp_path):
    # Given an answer naming a download URL, signed with another key than Alipay's
    bill_published(fake_channel, secrets, (FIXTURES / BILL_ZIP).read_bytes(), signed_by=other_secrets)

    # When the bill is downloaded, Then the answer is not believed and the URL never fetched
    with pytest.raises(UnknownOutcome, match="not verified"):
        alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert fake_channel.paths() == ["/gateway.do"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body", [b"<html>link expired</html>", (FIXTURES / "truncated.csv.zip").read_bytes()])
def test_a_download_that_is_not_a_whole_zip_is_refused_and_leaves_no_file(
    alipay, fake_channel, secrets, tmp_path, body
):
    bill_published(fake_channel, secrets, body)

    with pytest.raises(ChannelError) as raised:
        alipay.bill_download(DAY, BillKind.TRADE, tmp_path)

    assert raised.value.code == "BILL_DAMAGED"
    assert list(tmp_path.iterdir()) == []


def test_the_payout_bill_is_the_account_bill_asked_for_as_signcustomer(alipay, fake_channel, secrets, tmp_path):
    # Given Alipay publishes an account bill (the doc's members)
    account = FIXTURES / "account_detail.csv", FIXTURES / "account_summary.csv"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bill:
        bill.writestr("20880000000000000156_20261206_账务明细.csv", account[0].read_bytes())
        bill.writestr("20880000000000000156_20261206_账务明细(汇总).csv", account[1].read_bytes())
    bill_published(fake_channel, secrets, archive.getvalue())

    # When the day's payout bill is downloaded
    download = alipay.bill_download(DAY, BillKind.PAYOUT, tmp_path)

    # Then the same signed query asked for bill_type signcustomer, and the zip reads as transfers
    asked, fetched = fake_channel.received
    params = dict(parse_qsl(asked.body.decode()))
    assert params["method"] == "alipay.data.dataservice.bill.downloadurl.query"
    assert json.loads(params["biz_content"]) == {"bill_type": "signcustomer", "bill_date": "2026-12-06"}
    assert fetched.path == "/downloads/trade.csv.zip?token=t0k"
    assert download.filename == f"{secrets['seller_id']}_20261206_signcustomer.csv.zip"
    with download.path.open("rb") as stream:
        lines = list(bills.bill_parse("alipay", stream, BillKind.PAYOUT))
    assert [(line.order_no, line.status) for line in lines] == [
        ("W20261206000001", LineStatus.SUCCESS),
        ("W20261206000002", LineStatus.SUCCESS),
        ("W20261206000002", LineStatus.RETURNED),
    ]
