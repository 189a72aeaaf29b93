"""Alipay's two bills (docs/RECONCILIATION.md, "Alipay trade bill", "Alipay account bill"), each a
zip of two GBK CSVs framed by ``#`` comment lines, their fields padded with spaces or tabs:

- the trade bill (``TRADE``, ``bill_type=trade``): the detail (``*_业务明细.csv``) and its summary
  (``*_业务明细(汇总).csv``), payments and refunds;
- the account bill (``PAYOUT``, ``bill_type=signcustomer``): every movement of the account's
  balance (``*_账务明细.csv``) and its summary (``*_账务明细(汇总).csv``), of which the transfers
  (业务类型 转账 with our 商户订单号) are the payout lines; the rest is counted for the totals and
  skipped, the trade bill has it.
"""

import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, BinaryIO

from payments.channels import bill_csv
from payments.channels.bills import BillKind, BillLine, BillMalformed, LineKind, LineStatus

DETAIL_SUFFIX = "_业务明细.csv"
SUMMARY_SUFFIX = "_业务明细(汇总).csv"
# Alipay writes member names in GBK without the zip's UTF-8 flag.
NAME_ENCODING = "gbk"
ENCODING = "gbk"
PADDING = " \t"
DETAIL_HEADER = (
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
    "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
    "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
    "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注",
)  # fmt: skip
SUMMARY_HEADER = (
    "门店编号", "门店名称", "交易订单总笔数", "退款订单总笔数", "订单金额（元）", "商家实收（元）",
    "支付宝优惠（元）", "商家优惠（元）", "卡消费金额（元）", "服务费（元）", "分润（元）", "实收净额（元）",
)  # fmt: skip
PAYMENT = "交易"
REFUND = "退款"
TOTAL_ROW = "合计"
RECEIVED = "商家实收（元）"
SERVICE_FEE = "服务费（元）"
NET = "实收净额（元）"
_COUNTS_COMMENT = re.compile(r"#交易合计：(\d{1,9})笔，退款合计：(\d{1,9})笔", re.ASCII)


@dataclass
class _Totals:
    """What the detail lines add up to, or what the summary says they do."""

    payments: int = 0
    refunds: int = 0
    received: Decimal = Decimal(0)
    service_fee: Decimal = Decimal(0)


def bill_parse(stream: BinaryIO, kind: BillKind) -> Iterator[BillLine]:
    """The lines of the day's trade bill (``TRADE``) or account bill (``PAYOUT``) zip; ``stream``
    must be seekable (a file, an upload):
    a zip's directory is at its end. Members are read as they are decompressed.

    Lines come as they are read; the summary member is read first, but its agreement with the
    detail lines is known only after the last of them was yielded: a file that raises
    ``BillMalformed``, at any point, is kept by the caller not at all. A reason names the member
    whose line it means; line 0 is the zip itself.
    """
    if kind == BillKind.PAYOUT:
        return _account_lines(stream)
    return _trade_lines(stream)


def bill_zip_open(stream: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream, metadata_encoding=NAME_ENCODING)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BillMalformed(0, "not a zip archive, or one cut short") from exc


def _trade_lines(stream: BinaryIO) -> Iterator[BillLine]:
    with bill_zip_open(stream) as archive:
        detail_name, summary_name = member_names(archive, DETAIL_SUFFIX, SUMMARY_SUFFIX)
        with member_open(archive, summary_name) as member:
            total_line_no, stated = _summary_read(member)
        counted = _Totals()
        with member_open(archive, detail_name) as member:
            detail = Framed(member, header=DETAIL_HEADER)
            for line_no, row in detail.rows():
                line, received, service_fee = _detail_line(line_no, row)
                yield line
                counted.payments += line.kind == LineKind.PAYMENT
                counted.refunds += line.kind == LineKind.REFUND
                counted.received += received
                counted.service_fee += service_fee
            _counts_comment_check(detail, counted)
        with member_named(summary_name):
            bill_csv.summary_check(stated.payments, counted.payments, line_no=total_line_no, column="交易订单总笔数")
            bill_csv.summary_check(stated.refunds, counted.refunds, line_no=total_line_no, column="退款订单总笔数")
            bill_csv.summary_check(stated.received, counted.received, line_no=total_line_no, column=RECEIVED)
            bill_csv.summary_check(stated.service_fee, counted.service_fee, line_no=total_line_no, column=SERVICE_FEE)


def member_names(archive: zipfile.ZipFile, detail_suffix: str, summary_suffix: str) -> tuple[str, str]:
    """The detail's and the summary's names: the zip holds those two and nothing else."""
    names = archive.namelist()
    found = []
    for suffix in (detail_suffix, summary_suffix):
        matching = [name for name in names if name.endswith(suffix)]
        if len(matching) != 1:
            raise BillMalformed(0, f"the zip holds {len(matching)} members named *{suffix}, not one")
        found.append(matching[0])
    if len(names) != len(found):
        raise BillMalformed(0, f"the zip holds {len(names)} members, not the detail and its summary only")
    return found[0], found[1]


@contextmanager
def member_open(archive: zipfile.ZipFile, name: str) -> Iterator[IO[bytes]]:
    """A member, opened to be read as it decompresses; its errors name it."""
    with member_named(name):
        try:
            opened = archive.open(name)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:  # damaged, encrypted, exotic
            raise BillMalformed(0, f"cannot be opened ({exc})") from exc
        with opened:
            yield opened


@contextmanager
def member_named(name: str) -> Iterator[None]:
    try:
        yield
    except BillMalformed as exc:
        raise BillMalformed(exc.line_no, f"{name}: {exc.reason}") from exc


class Framed:
    """A member's layout: ``#`` comment lines, the header, the rows, ``#`` comment lines (the
    foot), nothing else. Fields are stripped of their padding."""

    def __init__(self, member: IO[bytes], *, header: Sequence[str]) -> None:
        self.lines = bill_csv.rows(member, encoding=ENCODING)
        self.header = header
        self.foot: list[tuple[int, str]] = []
        self.last_line_no = 0

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """Each row after the header by column name; ``foot`` is complete once they are all read."""
        header_line_no = 0
        for line_no, row in self.lines:
            self.last_line_no = line_no
            fields = [value.strip(PADDING) for value in row]
            if fields[:1] and fields[0].startswith("#"):
                if header_line_no:
                    self.foot.append((line_no, ",".join(fields)))
            elif self.foot:
                raise BillMalformed(line_no, "a line after the closing comments")
            elif not header_line_no:
                bill_csv.header_check(fields, self.header, line_no=line_no, what="this member")
                header_line_no = line_no
            else:
                bill_csv.columns_check(fields, len(self.header), line_no=line_no)
                yield line_no, dict(zip(self.header, fields, strict=True))
        if not header_line_no:
            raise BillMalformed(self.last_line_no + 1, "the member ends without its header")


def _detail_line(line_no: int, row: dict[str, str]) -> tuple[BillLine, Decimal, Decimal]:
    """A payment (交易) or a refund (退款), both money that moved, so both succeeded; with its
    商家实收 and 服务费 as written, for the summary."""
    business_type, received_text = row["业务类型"], row[RECEIVED]
    received = bill_csv.amount(received_text, line_no=line_no, column=RECEIVED, signed=True)
    order_no = bill_csv.required(row["商户订单号"], line_no=line_no, column="商户订单号")
    if business_type == PAYMENT and not received_text.startswith("-"):
        kind, number, parent_no = LineKind.PAYMENT, order_no, ""
    elif business_type == REFUND and received_text.startswith("-"):
        refund_no = bill_csv.required(row["退款批次号/请求号"], line_no=line_no, column="退款批次号/请求号")
        kind, number, parent_no = LineKind.REFUND, refund_no, order_no
    elif business_type in (PAYMENT, REFUND):
        raise BillMalformed(line_no, f"a {business_type} line whose 商家实收 is {received_text}")
    else:
        raise BillMalformed(line_no, f"业务类型 {business_type[:32]!r} is neither 交易 nor 退款")
    service_fee = bill_csv.amount(row[SERVICE_FEE], line_no=line_no, column=SERVICE_FEE, signed=True)
    line = BillLine(
        line_no=line_no,
        kind=kind,
        order_no=number,
        channel_reference=bill_csv.required(row["支付宝交易号"], line_no=line_no, column="支付宝交易号"),
        amount=abs(received),
        fee=Decimal("0.00") - service_fee,  # what Alipay takes is written negative
        status=LineStatus.SUCCESS,
        occurred_at=bill_csv.china_time(row["完成时间"], line_no=line_no, column="完成时间"),
        parent_no=parent_no,
    )
    return line, received, service_fee


def _counts_comment_check(detail: Framed, counted: _Totals) -> None:
    """``#交易合计：N笔，退款合计：M笔`` among the detail's closing comments, counting its lines."""
    matches = [(line_no, match) for line_no, text in detail.foot if (match := _COUNTS_COMMENT.fullmatch(text))]
    if not matches:
        raise BillMalformed(detail.last_line_no + 1, "the member ends without #交易合计：N笔，退款合计：M笔")
    if len(matches) > 1:
        raise BillMalformed(matches[1][0], "a second #交易合计 line")
    line_no, match = matches[0]
    bill_csv.summary_check(int(match[1]), counted.payments, line_no=line_no, column="交易合计")
    bill_csv.summary_check(int(match[2]), counted.refunds, line_no=line_no, column="退款合计")


def _summary_read(member: IO[bytes]) -> tuple[int, _Totals]:
    """The 合计 row (its line and figures), whose 实收净额 must be 商家实收 plus 服务费; store rows
    are checked for their shape only."""
    totals: tuple[int, dict[str, str]] | None = None
    summary = Framed(member, header=SUMMARY_HEADER)
    for line_no, row in summary.rows():
        if row["门店名称"] == TOTAL_ROW:
            if totals is not None:
                raise BillMalformed(line_no, "a second 合计 row")
            totals = (line_no, row)
    if totals is None:
        raise BillMalformed(summary.foot[0][0] if summary.foot else summary.last_line_no + 1, "no 合计 row")
    line_no, row = totals
    stated = _Totals(
        payments=bill_csv.count(row["交易订单总笔数"], line_no=line_no, column="交易订单总笔数"),
        refunds=bill_csv.count(row["退款订单总笔数"], line_no=line_no, column="退款订单总笔数"),
        received=bill_csv.amount(row[RECEIVED], line_no=line_no, column=RECEIVED, signed=True),
        service_fee=bill_csv.amount(row[SERVICE_FEE], line_no=line_no, column=SERVICE_FEE, signed=True),
    )
    net = bill_csv.amount(row[NET], line_no=line_no, column=NET, signed=True)
    if net != stated.received + stated.service_fee:
        raise BillMalformed(
            line_no, f"实收净额 {net} is not 商家实收 plus 服务费 ({stated.received + stated.service_fee})"
        )
    return line_no, stated


# The account bill (账务明细): every movement of the account's balance on the day.
ACCOUNT_DETAIL_SUFFIX = "_账务明细.csv"
ACCOUNT_SUMMARY_SUFFIX = "_账务明细(汇总).csv"
ACCOUNT_HEADER = (
    "账务流水号", "业务流水号", "商户订单号", "商品名称", "发生时间", "对方账号",
    "收入金额（+元）", "支出金额（-元）", "账户余额（元）", "交易渠道", "业务类型", "备注",
)  # fmt: skip
ACCOUNT_SUMMARY_HEADER = ("类型", "收入笔数", "收入金额（+元）", "支出笔数", "支出金额（-元）")
INCOME = "收入金额（+元）"
EXPENSE = "支出金额（-元）"
TRANSFER = "转账"
# ``#支出合计：2笔，共-22.20元`` / ``#收入合计：1笔，共12.30元``: the expense is written negative.
_FLOW_COMMENT = re.compile(r"#(支出|收入)合计：(\d{1,9})笔，共(-?\d{1,15}\.\d{2})元", re.ASCII)


@dataclass
class _Flows:
    """Lines in and out of the account and their sums, as the detail has them or the trailer says."""

    incomes: int = 0
    income: Decimal = Decimal(0)
    expenses: int = 0
    expense: Decimal = Decimal(0)  # negative, as written


def _account_lines(stream: BinaryIO) -> Iterator[BillLine]:
    """The payout lines of the account bill; every line counts for the trailer and the summary."""
    with bill_zip_open(stream) as archive:
        detail_name, summary_name = member_names(archive, ACCOUNT_DETAIL_SUFFIX, ACCOUNT_SUMMARY_SUFFIX)
        with member_open(archive, summary_name) as member:
            total_line_no, stated = _account_summary_read(member)
        counted = _Flows()
        with member_open(archive, detail_name) as member:
            detail = Framed(member, header=ACCOUNT_HEADER)
            for line_no, row in detail.rows():
                income, expense, line = _account_line(line_no, row)
                if income:
                    counted.incomes += 1
                    counted.income += income
                else:
                    counted.expenses += 1
                    counted.expense += expense
                if line is not None:
                    yield line
            _flow_comments_check(detail, counted)
        with member_named(summary_name):
            for column, figure, value in (
                ("收入笔数", stated.incomes, counted.incomes),
                (INCOME, stated.income, counted.income),
                ("支出笔数", stated.expenses, counted.expenses),
                (EXPENSE, stated.expense, counted.expense),
            ):
                bill_csv.summary_check(figure, value, line_no=total_line_no, column=column)


def _account_line(line_no: int, row: dict[str, str]) -> tuple[Decimal, Decimal, BillLine | None]:
    """The line's income and expense (one of them zero) and, for a transfer of ours, its payout
    line: money out is the transfer paid, money back in the same transfer given back. Lines of
    other business types, and transfers with no 商户订单号 (money others sent us), are None."""
    income = bill_csv.amount(row[INCOME], line_no=line_no, column=INCOME)
    expense = bill_csv.amount(row[EXPENSE], line_no=line_no, column=EXPENSE, signed=True)
    if expense > 0:
        raise BillMalformed(line_no, f"{EXPENSE} {row[EXPENSE][:32]!r} is written positive")
    if bool(income) == bool(expense):
        raise BillMalformed(line_no, f"{INCOME} {row[INCOME]} and {EXPENSE} {row[EXPENSE]}: not one movement")
    bill_csv.amount(row["账户余额（元）"], line_no=line_no, column="账户余额（元）", signed=True)
    occurred_at = bill_csv.china_time(row["发生时间"], line_no=line_no, column="发生时间")
    bill_csv.required(row["账务流水号"], line_no=line_no, column="账务流水号")
    order_no = row["商户订单号"]
    if row["业务类型"] != TRANSFER or not order_no:
        return income, expense, None
    line = BillLine(
        line_no=line_no,
        kind=LineKind.PAYOUT,
        order_no=order_no,
        channel_reference=bill_csv.required(row["业务流水号"], line_no=line_no, column="业务流水号"),
        amount=income or -expense,
        fee=None,  # Alipay books a charge as its own 收费 line, not on the transfer's
        status=LineStatus.RETURNED if income else LineStatus.SUCCESS,
        occurred_at=occurred_at,
    )
    return income, expense, line


def _flow_comments_check(detail: Framed, counted: _Flows) -> None:
    """``#支出合计`` and ``#收入合计``, once each among the detail's closing comments."""
    found: dict[str, tuple[int, re.Match[str]]] = {}
    for line_no, text in detail.foot:
        match = _FLOW_COMMENT.fullmatch(text.rstrip(","))  # some exports pad comments with commas
        if match is None:
            continue
        if match[1] in found:
            raise BillMalformed(line_no, f"a second #{match[1]}合计 line")
        found[match[1]] = (line_no, match)
    expected = (("支出", counted.expenses, counted.expense), ("收入", counted.incomes, counted.income))
    for direction, count, total in expected:
        if direction not in found:
            raise BillMalformed(detail.last_line_no + 1, f"the member ends without #{direction}合计：N笔，共X元")
        line_no, match = found[direction]
        bill_csv.summary_check(int(match[2]), count, line_no=line_no, column=f"{direction}合计")
        bill_csv.summary_check(Decimal(match[3]), total, line_no=line_no, column=f"{direction}合计")


def _account_summary_read(member: IO[bytes]) -> tuple[int, _Flows]:
    """The 合计 row (its line and figures); the rows by 类型 are checked for their shape only."""
    totals: tuple[int, dict[str, str]] | None = None
    summary = Framed(member, header=ACCOUNT_SUMMARY_HEADER)
    for line_no, row in summary.rows():
        if row["类型"] == TOTAL_ROW:
            if totals is not None:
                raise BillMalformed(line_no, "a second 合计 row")
            totals = (line_no, row)
    if totals is None:
        raise BillMalformed(summary.foot[0][0] if summary.foot else summary.last_line_no + 1, "no 合计 row")
    line_no, row = totals
    return line_no, _Flows(
        incomes=bill_csv.count(row["收入笔数"], line_no=line_no, column="收入笔数"),
        income=bill_csv.amount(row[INCOME], line_no=line_no, column=INCOME),
        expenses=bill_csv.count(row["支出笔数"], line_no=line_no, column="支出笔数"),
        expense=bill_csv.amount(row[EXPENSE], line_no=line_no, column=EXPENSE, signed=True),
    )
