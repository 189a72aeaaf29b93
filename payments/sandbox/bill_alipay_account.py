"""Alipay's account bill (账务明细) as the sandbox writes it (docs/RECONCILIATION.md, "Alipay
account bill"): a zip of two GBK CSVs, the detail of the account's movements and its summary,
each between ``#`` comment lines. The sandbox's account moves only by its transfers: a transfer
paid is a line out, one given back a line out and a line back in.

The balance column runs from ``OPENING_BALANCE``: the sandbox keeps no balance of its own, and
reconciliation reads the movements, not the balance.
"""

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, cast

from payments.channels.alipay.bills import ACCOUNT_HEADER, ACCOUNT_SUMMARY_HEADER, TOTAL_ROW, TRANSFER
from payments.channels.alipay.transfers import DEFAULT_TITLE
from payments.sandbox.bill_alipay import ACCOUNT_SUFFIX, COMMENT_TIME_FORMAT, PAD, TIME_FORMAT
from payments.sandbox.bill_csv import CsvSink, Writable, money
from payments.sandbox.bill_entries import CHINA, Entry, EntryKind, day_bounds
from wallet.money import ZERO

DETAIL_OPEN = "#-----------------------------------------账务明细列表----------------------------------------"
DETAIL_CLOSE = "#-----------------------------------------账务明细列表结束------------------------------------"
SUMMARY_OPEN = "#-----------------------------------------账务汇总列表----------------------------------------"
SUMMARY_CLOSE = "#-----------------------------------------账务汇总列表结束------------------------------------"
OPENING_BALANCE = Decimal("1000000.00")
CHANNEL = "支付宝"


@dataclass
class _Flows:
    incomes: int = 0
    income: Decimal = ZERO
    expenses: int = 0
    expense: Decimal = ZERO  # negative, as written


def alipay_account_bill_name(pid: str, day: date) -> str:
    """The zip's name, ``<pid>_20261206_signcustomer.csv.zip`` (the adapter keeps it under this name)."""
    return f"{pid}_{day:%Y%m%d}_signcustomer.csv.zip"


def alipay_account_write(
    entries: Iterable[Entry], out: Writable, *, pid: str, day: date, exported_at: datetime
) -> None:
    """The zip of the day's account detail and its summary; ``out`` need not seek."""
    stem = f"{pid}_{day:%Y%m%d}"
    with zipfile.ZipFile(cast(IO[bytes], out), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{stem}_账务明细.csv", "w") as member:
            flows = _detail_write(entries, member, pid=pid, day=day, exported_at=exported_at)
        with archive.open(f"{stem}_账务明细(汇总).csv", "w") as member:
            _summary_write(flows, member, pid=pid, day=day, exported_at=exported_at)


def _detail_write(entries: Iterable[Entry], out: IO[bytes], *, pid: str, day: date, exported_at: datetime) -> _Flows:
    sink = CsvSink(out, encoding="gbk")
    _head(sink, "#支付宝账务明细查询", DETAIL_OPEN, pid=pid, day=day)
    sink.row(ACCOUNT_HEADER)
    flows = _Flows()
    balance = OPENING_BALANCE
    for number, entry in enumerate(entries, start=1):
        back_in = entry.kind == EntryKind.PAYOUT_RETURN
        income, expense = (entry.amount, ZERO) if back_in else (ZERO, ZERO - entry.amount)
        balance += income + expense
        sink.row(
            (
                f"{day:%Y%m%d}{number:012d}{PAD}",
                f"{entry.reference}{PAD}",
                f"{entry.order_no}{PAD}",
                f"{DEFAULT_TITLE}{PAD}",
                entry.at.astimezone(CHINA).strftime(TIME_FORMAT),
                "",
                money(income),
                money(expense),
                money(balance),
                CHANNEL,
                TRANSFER,
                "退回" if back_in else "",
            )
        )
        if back_in:
            flows.incomes += 1
            flows.income += income
        else:
            flows.expenses += 1
            flows.expense += expense
    sink.line(DETAIL_CLOSE)
    sink.line(f"#支出合计：{flows.expenses}笔，共{money(flows.expense)}元")
    sink.line(f"#收入合计：{flows.incomes}笔，共{money(flows.income)}元")
    sink.line(f"#导出时间：[{exported_at.astimezone(CHINA).strftime(COMMENT_TIME_FORMAT)}]")
    sink.flush()
    return flows


def _summary_write(flows: _Flows, out: IO[bytes], *, pid: str, day: date, exported_at: datetime) -> None:
    sink = CsvSink(out, encoding="gbk")
    _head(sink, "#支付宝账务汇总查询", SUMMARY_OPEN, pid=pid, day=day)
    sink.row(ACCOUNT_SUMMARY_HEADER)
    figures = (str(flows.incomes), money(flows.income), str(flows.expenses), money(flows.expense))
    if flows.incomes or flows.expenses:
        sink.row((TRANSFER, *figures))
    sink.row((TOTAL_ROW, *figures))
    sink.line(SUMMARY_CLOSE)
    sink.line(f"#导出时间：[{exported_at.astimezone(CHINA).strftime(COMMENT_TIME_FORMAT)}]")
    sink.flush()


def _head(sink: CsvSink, title: str, opening: str, *, pid: str, day: date) -> None:
    start, end = day_bounds(day)
    sink.line(title)
    sink.line(f"#账号：[{pid}{ACCOUNT_SUFFIX}]")
    sink.line(f"#起始日期：[{start.strftime(COMMENT_TIME_FORMAT)}]   终止日期：[{end.strftime(COMMENT_TIME_FORMAT)}]")
    sink.line(opening)
