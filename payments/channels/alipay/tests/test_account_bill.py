"""Alipay's account bill (账务明细, ``bill_type=signcustomer``): the zip of two GBK CSVs, read from
members written by hand from docs/RECONCILIATION.md ("Alipay account bill"); its transfers are the
payout lines, every other movement counts for the totals only."""

import io
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from payments.channels import bills
from payments.channels.bills import BillKind, BillLine, BillMalformed, LineKind, LineStatus

FIXTURES = Path(__file__).parent / "fixtures"
DETAIL = "20880000000000000156_20261206_账务明细.csv"
SUMMARY = "20880000000000000156_20261206_账务明细(汇总).csv"
D = Decimal


def payout_line(line_no: int, transfer: int, amount: str, status: LineStatus, at: str) -> BillLine:
    """The doc's ``transfer``-th transfer (W20261206000001, Alipay's 20261206110070000000000000001)."""
    return BillLine(
        line_no=line_no,
        kind=LineKind.PAYOUT,
        order_no=f"W20261206{transfer:06d}",
        channel_reference=f"2026120611007{transfer:016d}",
        amount=D(amount),
        fee=None,
        status=status,
        occurred_at=datetime.fromisoformat(f"{at}+08:00"),
    )


LINES = [
    payout_line(7, 1, "9.90", LineStatus.SUCCESS, "2026-12-06T10:00:07"),
    payout_line(9, 2, "12.30", LineStatus.SUCCESS, "2026-12-06T11:30:00"),
    payout_line(10, 2, "12.30", LineStatus.RETURNED, "2026-12-06T15:00:00"),
]


def member_text(name: str) -> str:
    """A member's hand-written text (the fixture is GBK, as in the zip)."""
    return (FIXTURES / name).read_bytes().decode("gbk")


def zip_of(detail: str | bytes, summary: str | bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bill:
        bill.writestr(DETAIL, detail if isinstance(detail, bytes) else detail.encode("gbk"))
        bill.writestr(SUMMARY, summary if isinstance(summary, bytes) else summary.encode("gbk"))
    return archive.getvalue()


def edited(member: str, old: str, new: str) -> bytes:
    texts = {"detail": member_text("account_detail.csv"), "summary": member_text("account_summary.csv")}
    assert old in texts[member]
    texts[member] = texts[member].replace(old, new, 1)
    return zip_of(texts["detail"], texts["summary"])


def read(data: bytes) -> list[BillLine]:
    return list(bills.bill_parse("alipay", io.BytesIO(data), BillKind.PAYOUT))


def refused(data: bytes) -> BillMalformed:
    with pytest.raises(BillMalformed) as raised:
        read(data)
    return raised.value


def test_the_account_bill_of_the_doc_reads_as_its_transfers_paid_and_given_back():
    # Given the doc's account bill: a payment, its service fee and three transfer movements
    data = zip_of(member_text("account_detail.csv"), member_text("account_summary.csv"))

    # When it is read as the payout bill
    lines = read(data)

    # Then the transfers alone are its lines: two paid, the second given back; no fee column
    assert lines == LINES


def test_comment_lines_padded_with_commas_read_the_same():
    detail = member_text("account_detail.csv")
    for comment in ("#支出合计：3笔，共-22.50元", "#收入合计：2笔，共62.30元"):
        detail = detail.replace(comment, f"{comment},,,,,,,,,,,")

    assert read(zip_of(detail, member_text("account_summary.csv"))) == LINES


def test_a_day_without_movements_reads_as_no_lines():
    # Given the doc's members with their rows taken out and their totals at zero
    detail = (
        "\r\n".join(line for line in member_text("account_detail.csv").split("\r\n") if not line[:1].isdigit())
        .replace("3笔，共-22.50元", "0笔，共0.00元")
        .replace("2笔，共62.30元", "0笔，共0.00元")
    )
    summary = "\r\n".join(
        "合计,0,0.00,0,0.00" if line.startswith("合计") else line
        for line in member_text("account_summary.csv").split("\r\n")
        if not line.startswith(("在线支付", "转账", "收费"))
    )

    # When it is read, Then it has no lines (and its zero totals agree)
    assert read(zip_of(detail, summary)) == []


@pytest.mark.parametrize(
    ("member", "old", "new", "line_no", "reason"),
    [
        ("detail", ",0.00,-9.90,", ",0.00,9.90,", 7, "支出金额（-元） '9.90' is written positive"),
        ("detail", ",0.00,-9.90,", ",0.00,-9.9,", 7, "支出金额（-元） '-9.9' is not an amount"),
        ("detail", ",0.00,-9.90,", ",1.00,-9.90,", 7, "not one movement"),
        ("detail", ",12.30,0.00,", ",0.00,0.00,", 10, "not one movement"),
        ("detail", "2026-12-06 11:30:00", "2026-12-06 11:30", 9, "发生时间 '2026-12-06 11:30' is not a time"),
        ("detail", ",支付宝,转账,\r\n", ",支付宝,转账\r\n", 7, "11 columns where the format has 12"),
        ("detail", "\t,20261206110070000000000000001\t,", "\t,\t,", 7, "no 业务流水号"),
        ("detail", "320261206000004\t", "\t", 9, "no 账务流水号"),
        ("detail", "#支出合计：3笔", "#支出合计：2笔", 12, "支出合计 is 2, the detail lines make 3"),
        ("detail", "共-22.50元", "共-22.60元", 12, "支出合计 is -22.60, the detail lines make -22.50"),
        ("detail", "共62.30元", "共62.31元", 13, "收入合计 is 62.31, the detail lines make 62.30"),
        ("detail", "#收入合计：2笔，共62.30元", "#收入", 15, "ends without #收入合计"),
        ("detail", "#导出时间", "#支出合计：3笔，共-22.50元\r\n#导出时间", 14, "a second #支出合计 line"),
        ("detail", "#导出时间", "1,2\r\n#导出时间", 14, "a line after the closing comments"),
        ("detail", "账务流水号,", "流水号,", 5, "not the header of this member"),
        ("summary", "合计,2,62.30,3,-22.50", "合计,2,62.30,4,-22.50", 9, "支出笔数 is 4, the detail lines make 3"),
        ("summary", "合计,2,62.30,3,-22.50", "合计,2,62.30,3,-22.51", 9, "支出金额（-元） is -22.51"),
        ("summary", "合计,2,62.30,3,-22.50", "合计,1,62.30,3,-22.50", 9, "收入笔数 is 1, the detail lines make 2"),
        ("summary", "合计,2,62.30,3,-22.50", "合计,2,62.00,3,-22.50", 9, "收入金额（+元） is 62.00"),
        ("summary", "合计,2,", "小计,2,", 10, "no 合计 row"),
        ("summary", "收费,0,0.00,1,-0.30", "合计,0,0.00,1,-0.30", 9, "a second 合计 row"),
    ],
)  # fmt: skip
def test_a_member_edited_out_of_its_format_is_refused_as_a_whole_naming_member_and_line(
    member, old, new, line_no, reason
):
    error = refused(edited(member, old, new))

    assert error.line_no == line_no, error.reason
    assert error.reason.startswith(DETAIL if member == "detail" else SUMMARY), error.reason
    assert reason in error.reason, error.reason


def test_bytes_that_are_not_gbk_are_refused_at_their_line():
    detail = member_text("account_detail.csv").encode("gbk").replace("李四".encode("gbk"), b"\xff\xfe", 1)

    error = refused(zip_of(detail, member_text("account_summary.csv")))

    assert (error.line_no, error.reason) == (9, f"{DETAIL}: not GBK text")


def test_a_trade_bill_given_as_the_account_bill_is_refused_for_its_member_names():
    error = refused((FIXTURES / "20880000000000000156_20261206.csv.zip").read_bytes())

    assert (error.line_no, error.reason) == (0, "the zip holds 0 members named *_账务明细.csv, not one")


def test_a_zip_cut_short_is_refused():
    assert refused((FIXTURES / "truncated.csv.zip").read_bytes()).reason == "not a zip archive, or one cut short"
