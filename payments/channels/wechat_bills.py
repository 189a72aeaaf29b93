"""WeChat Pay's bills, the same CSVs from v3 and v2 (docs/RECONCILIATION.md, "WeChat Pay trade
bill" and "WeChat Pay fund flow bill"): the trade bill (payments and refunds) and the fund flow
(payouts and their returns).

Each is a header, detail lines whose every field starts with a back-tick, and a summary header
and line that must agree with the detail lines. The file may open with a UTF-8 byte order mark,
and may be the gzip WeChat serves (staff upload either): its magic bytes tell.
"""

import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import repeat
from typing import BinaryIO

from payments.channels import bill_csv
from payments.channels.bills import BillKind, BillLine, BillMalformed, LineKind, LineStatus

GZIP_MAGIC = b"\x1f\x8b"
TRADE_HEADER = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
    "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号",
    "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包",
    "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
)  # fmt: skip
TRADE_SUMMARY_HEADER = (
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额",
)  # fmt: skip
FUND_FLOW_HEADER = (
    "记账时间", "微信支付业务单号", "资金流水单号", "业务名称", "业务类型", "收支类型", "收支金额（元）",
    "账户结余（元）", "资金变更提交申请人", "备注", "业务凭证号",
)  # fmt: skip
TRADE_COLUMN = {name: position for position, name in enumerate(TRADE_HEADER)}
FUND_FLOW_SUMMARY_HEADER = ("资金流水总笔数", "收入笔数", "收入金额", "支出笔数", "支出金额")
# 交易状态 of a payment line; REFUND marks a refund line, whose own state is its 退款状态.
PAYMENT_STATUSES = {
    "SUCCESS": LineStatus.SUCCESS,
    "CLOSED": LineStatus.FAILED,
    "REVOKED": LineStatus.FAILED,
    "PAYERROR": LineStatus.FAILED,
    "NOTPAY": LineStatus.PROCESSING,
    "USERPAYING": LineStatus.PROCESSING,
}
REFUND = "REFUND"
REFUND_STATUSES = {
    "SUCCESS": LineStatus.SUCCESS,
    "PROCESSING": LineStatus.PROCESSING,
    "REFUNDCLOSE": LineStatus.FAILED,
    "CHANGE": LineStatus.FAILED,
}
# The amounts of a trade line; all are checked, those the summary totals are summed.
TRADE_AMOUNTS = ("应结订单金额", "代金券金额", "退款金额", "充值券退款金额", "订单金额", "申请退款金额")
# Every amount of a trade line with whether it may be negative (the fee given back on a refund).
SUMMED = (*((name, False) for name in TRADE_AMOUNTS), ("手续费", True))
PAID_OUT = "支出"
RECEIVED = "收入"
RETURN_BUSINESS_TYPE = "退款"


def bill_parse(stream: BinaryIO, kind: BillKind) -> Iterator[BillLine]:
    """The lines of a trade bill (``TRADE``) or a fund flow (``PAYOUT``), plain or gzipped.

    Lines come as they are read; the summary is checked once the detail lines are all read, so
    a disagreeing summary raises ``BillMalformed`` after every line was yielded: the caller
    keeps nothing of a file that raised.
    """
    rows = bill_csv.rows(_uncompressed(stream), encoding="utf-8")
    if kind == BillKind.TRADE:
        return _trade_lines(_Sections(rows, header=TRADE_HEADER, summary_header=TRADE_SUMMARY_HEADER, what="trade"))
    return _fund_flow_lines(
        _Sections(rows, header=FUND_FLOW_HEADER, summary_header=FUND_FLOW_SUMMARY_HEADER, what="fund flow")
    )


class _Sections:
    """The header, then the detail lines, then the summary header and line, then nothing."""

    def __init__(
        self, rows: Iterator[tuple[int, list[str]]], *, header: Sequence[str], summary_header: Sequence[str], what: str
    ) -> None:
        self.rows = rows
        self.header = header
        self.summary_header = list(summary_header)
        self.what = f"a WeChat Pay {what} bill"
        self.last_line_no = 0

    def details(self) -> Iterator[tuple[int, list[str]]]:
        """Each detail line's fields in the header's order, back-ticks taken off, up to the
        summary header."""
        line_no, row = self._next("its header")
        bill_csv.header_check(row, self.header, line_no=line_no, what=self.what)
        width = len(self.header)
        while True:
            line_no, row = self._next("its summary")
            if row == self.summary_header:
                return
            yield line_no, _unticked(row, width, line_no=line_no)

    def summary(self) -> tuple[int, dict[str, str]]:
        """The summary line by column name; it must be the file's last."""
        line_no, row = self._next("its summary line")
        values = dict(zip(self.summary_header, _unticked(row, len(self.summary_header), line_no=line_no), strict=True))
        extra = next(self.rows, None)
        if extra is not None:
            raise BillMalformed(extra[0], "a line after the summary")
        return line_no, values

    def _next(self, expected: str) -> tuple[int, list[str]]:
        row = next(self.rows, None)
        if row is None:
            raise BillMalformed(self.last_line_no + 1, f"the file ends without {expected}")
        self.last_line_no = row[0]
        return row


@dataclass
class _TradeTotals:
    lines: int = 0
    sums: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys((*TRADE_AMOUNTS, "手续费"), Decimal(0)))


def _trade_lines(sections: _Sections) -> Iterator[BillLine]:
    totals = _TradeTotals()
    sums = totals.sums
    amount = bill_csv.amount
    # Positions, not a dict per line: a million lines a day make this the importer's hot loop.
    positions = [(name, TRADE_COLUMN[name], signed) for name, signed in SUMMED]
    for line_no, row in sections.details():
        amounts = {name: amount(row[at], line_no=line_no, column=name, signed=signed) for name, at, signed in positions}
        yield _trade_line(line_no, row, amounts)
        totals.lines += 1
        for name, value in amounts.items():
            sums[name] += value
    line_no, summary = sections.summary()
    stated_count = bill_csv.count(summary["总交易单数"], line_no=line_no, column="总交易单数")
    bill_csv.summary_check(stated_count, totals.lines, line_no=line_no, column="总交易单数")
    for column, summed in (
        ("应结订单总金额", "应结订单金额"),
        ("退款总金额", "退款金额"),
        ("手续费总金额", "手续费"),
        ("订单总金额", "订单金额"),
        ("申请退款总金额", "申请退款金额"),
    ):
        stated = bill_csv.amount(summary[column], line_no=line_no, column=column, signed=column == "手续费总金额")
        bill_csv.summary_check(stated, totals.sums[summed], line_no=line_no, column=column)
    bill_csv.amount(summary["充值券退款总金额"], line_no=line_no, column="充值券退款总金额")


def _trade_line(line_no: int, fields: list[str], amounts: dict[str, Decimal]) -> BillLine:
    def row(name: str) -> str:
        return fields[TRADE_COLUMN[name]]

    state = row("交易状态")
    occurred_at = bill_csv.china_time(row("交易时间"), line_no=line_no, column="交易时间")
    order_no = bill_csv.required(row("商户订单号"), line_no=line_no, column="商户订单号")
    if state == REFUND:
        refund_status = REFUND_STATUSES.get(row("退款状态"))
        if refund_status is None:
            raise BillMalformed(line_no, f"退款状态 {row('退款状态')[:32]!r} is not a refund state")
        return BillLine(
            line_no=line_no,
            kind=LineKind.REFUND,
            order_no=bill_csv.required(row("商户退款单号"), line_no=line_no, column="商户退款单号"),
            channel_reference=bill_csv.required(row("微信退款单号"), line_no=line_no, column="微信退款单号"),
            amount=amounts["退款金额"],
            fee=amounts["手续费"],
            status=refund_status,
            occurred_at=occurred_at,
            parent_no=order_no,
        )
    status = PAYMENT_STATUSES.get(state)
    if status is None:
        raise BillMalformed(line_no, f"交易状态 {state[:32]!r} is not a trade state")
    return BillLine(
        line_no=line_no,
        kind=LineKind.PAYMENT,
        order_no=order_no,
        channel_reference=bill_csv.required(row("微信订单号"), line_no=line_no, column="微信订单号"),
        # What was collected; a payment not collected settles nothing, so its order's amount.
        amount=amounts["应结订单金额" if status == LineStatus.SUCCESS else "订单金额"],
        fee=amounts["手续费"],
        status=status,
        occurred_at=occurred_at,
    )


def _fund_flow_lines(sections: _Sections) -> Iterator[BillLine]:
    counts = {RECEIVED: 0, PAID_OUT: 0}
    sums = {RECEIVED: Decimal(0), PAID_OUT: Decimal(0)}
    for line_no, fields in sections.details():
        line = _fund_flow_line(line_no, dict(zip(FUND_FLOW_HEADER, fields, strict=True)))
        yield line
        direction = PAID_OUT if line.status == LineStatus.SUCCESS else RECEIVED
        counts[direction] += 1
        sums[direction] += line.amount
    line_no, summary = sections.summary()
    stated_total = bill_csv.count(summary["资金流水总笔数"], line_no=line_no, column="资金流水总笔数")
    bill_csv.summary_check(stated_total, sum(counts.values()), line_no=line_no, column="资金流水总笔数")
    for direction, count_column, sum_column in ((RECEIVED, "收入笔数", "收入金额"), (PAID_OUT, "支出笔数", "支出金额")):
        stated_count = bill_csv.count(summary[count_column], line_no=line_no, column=count_column)
        bill_csv.summary_check(stated_count, counts[direction], line_no=line_no, column=count_column)
        stated_sum = bill_csv.amount(summary[sum_column], line_no=line_no, column=sum_column)
        bill_csv.summary_check(stated_sum, sums[direction], line_no=line_no, column=sum_column)


def _fund_flow_line(line_no: int, row: dict[str, str]) -> BillLine:
    """A payout paid (支出), or the same payout given back (收入 of 业务类型 退款)."""
    direction, business_type = row["收支类型"], row["业务类型"]
    if direction == PAID_OUT:
        status = LineStatus.SUCCESS
    elif direction == RECEIVED and business_type == RETURN_BUSINESS_TYPE:
        status = LineStatus.RETURNED
    elif direction == RECEIVED:
        raise BillMalformed(line_no, f"收入 of 业务类型 {business_type[:32]!r} is not a returned payout")
    else:
        raise BillMalformed(line_no, f"收支类型 {direction[:32]!r} is neither 收入 nor 支出")
    bill_csv.amount(row["账户结余（元）"], line_no=line_no, column="账户结余（元）")
    return BillLine(
        line_no=line_no,
        kind=LineKind.PAYOUT,
        order_no=bill_csv.required(row["业务凭证号"], line_no=line_no, column="业务凭证号"),
        channel_reference=bill_csv.required(row["微信支付业务单号"], line_no=line_no, column="微信支付业务单号"),
        amount=bill_csv.amount(row["收支金额（元）"], line_no=line_no, column="收支金额（元）"),
        fee=None,
        status=status,
        occurred_at=bill_csv.china_time(row["记账时间"], line_no=line_no, column="记账时间"),
    )


def _unticked(row: list[str], width: int, *, line_no: int) -> list[str]:
    """The fields without the back-tick each of them must start with."""
    bill_csv.columns_check(row, width, line_no=line_no)
    if all(map(str.startswith, row, repeat("`"))):
        return [value[1:] for value in row]
    position = next(position for position, value in enumerate(row) if value[:1] != "`")
    raise BillMalformed(line_no, f"column {position + 1} does not start with a back-tick")


def _uncompressed(stream: BinaryIO) -> bill_csv.LineSource:
    """The bill's bytes, gunzipped when they are a gzip stream."""
    head = stream.read(len(GZIP_MAGIC))
    reader = io.BufferedReader(_Rejoined(head, stream))
    return gzip.GzipFile(fileobj=reader) if head == GZIP_MAGIC else reader


class _Rejoined(io.RawIOBase):
    """The bytes read to sniff the format, then the rest of the stream: any readable stream
    will do, seekable or not."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # BufferedReader passes a memoryview
        if self.head:
            data, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        else:
            data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
