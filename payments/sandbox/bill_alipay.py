"""Alipay's trade bill as the sandbox writes it (docs/RECONCILIATION.md, "Alipay trade bill"): a
zip of two GBK CSVs, the detail (业务明细) and its summary (汇总), each between ``#`` comment
lines, the first fields padded with a tab as Alipay pads them.

Each member is written through ``ZipFile.open``, so neither is ever whole in memory; the
summary is totalled while the detail is written.
"""

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, cast

from payments.channels.alipay.bills import DETAIL_HEADER, SUMMARY_HEADER
from payments.sandbox.bill_csv import CsvSink, Writable, money
from payments.sandbox.bill_entries import CHINA, Entry, EntryKind, day_bounds
from wallet.money import ZERO

DETAIL_OPEN = "#-----------------------------------------业务明细列表----------------------------------------"
DETAIL_CLOSE = "#-----------------------------------------业务明细列表结束------------------------------------"
SUMMARY_OPEN = "#-----------------------------------------业务汇总列表----------------------------------------"
SUMMARY_CLOSE = "#-----------------------------------------业务汇总列表结束------------------------------------"
# Alipay's account number is the partner id and a four-digit suffix.
ACCOUNT_SUFFIX = "0156"
PAD = "\t"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
COMMENT_TIME_FORMAT = "%Y年%m月%d日 %H:%M:%S"


@dataclass
class _Totals:
    trades: int = 0
    refunds: int = 0
    ordered: Decimal = ZERO
    received: Decimal = ZERO
    service_fees: Decimal = ZERO


def alipay_bill_name(pid: str, day: date) -> str:
    """The zip's name, ``<pid>_20261206.csv.zip``."""
    return f"{pid}_{day:%Y%m%d}.csv.zip"


def alipay_trade_write(entries: Iterable[Entry], out: Writable, *, pid: str, day: date, exported_at: datetime) -> None:
    """The zip of the day's detail and summary members; ``out`` need not seek (the sizes then
    follow each member, as zip allows)."""
    stem = f"{pid}_{day:%Y%m%d}"
    with zipfile.ZipFile(cast(IO[bytes], out), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{stem}_业务明细.csv", "w") as member:
            totals = _detail_write(entries, member, pid=pid, day=day, exported_at=exported_at)
        with archive.open(f"{stem}_业务明细(汇总).csv", "w") as member:
            _summary_write(totals, member, pid=pid, day=day, exported_at=exported_at)


def _detail_write(entries: Iterable[Entry], out: IO[bytes], *, pid: str, day: date, exported_at: datetime) -> _Totals:
    sink = CsvSink(out, encoding="gbk")
    _head(sink, "#支付宝业务明细查询", DETAIL_OPEN, pid=pid, day=day)
    sink.row(DETAIL_HEADER)
    totals = _Totals()
    for entry in entries:
        refund = entry.kind == EntryKind.REFUND
        received = -entry.amount if refund else entry.amount
        service_fee = ZERO - entry.fee
        opened_at = entry.payment_opened_at or entry.at
        fields = (
            f"{entry.payment_reference}{PAD}",
            f"{entry.payment_order_no}{PAD}",
            f"{'退款' if refund else '交易'}{PAD}",
            f"{entry.subject}{PAD}",
            opened_at.astimezone(CHINA).strftime(TIME_FORMAT),
            entry.at.astimezone(CHINA).strftime(TIME_FORMAT),
            "",
            "",
            "",
            "",
            entry.payer,
            money(entry.payment_amount),
            money(received),
            *("0.00",) * 5,
            "",
            "0.00",
            "0.00",
            entry.order_no if refund else "",
            money(service_fee),
            "0.00",
            "",
        )
        sink.row(fields)
        if refund:
            totals.refunds += 1
        else:
            totals.trades += 1
            totals.ordered += entry.payment_amount
        totals.received += received
        totals.service_fees += service_fee
    sink.line(DETAIL_CLOSE)
    sink.line(f"#交易合计：{totals.trades}笔，退款合计：{totals.refunds}笔")
    sink.line(f"#导出时间：[{exported_at.astimezone(CHINA).strftime(COMMENT_TIME_FORMAT)}]")
    sink.flush()
    return totals


def _summary_write(totals: _Totals, out: IO[bytes], *, pid: str, day: date, exported_at: datetime) -> None:
    sink = CsvSink(out, encoding="gbk")
    _head(sink, "#支付宝业务汇总查询", SUMMARY_OPEN, pid=pid, day=day)
    sink.row(SUMMARY_HEADER)
    sink.row(
        (
            "",
            "合计",
            str(totals.trades),
            str(totals.refunds),
            money(totals.ordered),
            money(totals.received),
            "0.00",
            "0.00",
            "0.00",
            money(totals.service_fees),
            "0.00",
            money(totals.received + totals.service_fees),
        )
    )
    sink.line(SUMMARY_CLOSE)
    sink.line(f"#导出时间：[{exported_at.astimezone(CHINA).strftime(COMMENT_TIME_FORMAT)}]")
    sink.flush()


def _head(sink: CsvSink, title: str, opening: str, *, pid: str, day: date) -> None:
    start, end = day_bounds(day)
    sink.line(title)
    sink.line(f"#账号：[{pid}{ACCOUNT_SUFFIX}]")
    sink.line(f"#起始日期：[{start.strftime(COMMENT_TIME_FORMAT)}]   终止日期：[{end.strftime(COMMENT_TIME_FORMAT)}]")
    sink.line(opening)
