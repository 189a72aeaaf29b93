"""WeChat Pay's bills as the sandbox writes them, the same CSVs from v3 and v2
(docs/RECONCILIATION.md, "WeChat Pay trade bill" and "WeChat Pay fund flow bill"): every field
after a back-tick, ``\\r\\n`` line ends, and a summary totalled from the lines written."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from payments.channels.wechat_bills import (
    FUND_FLOW_HEADER,
    FUND_FLOW_SUMMARY_HEADER,
    TRADE_HEADER,
    TRADE_SUMMARY_HEADER,
)
from payments.sandbox.bill_csv import CsvSink, Writable, money
from payments.sandbox.bill_entries import CHINA, Entry, EntryKind, EntryStatus
from wallet.money import ZERO

PAYMENT_STATUS = {EntryStatus.SUCCESS: "SUCCESS", EntryStatus.FAILED: "PAYERROR"}
REFUND_STATUS = {EntryStatus.SUCCESS: "SUCCESS", EntryStatus.FAILED: "REFUNDCLOSE"}
# The basic account's balance before the day's first line (the sandbox keeps no balance).
OPENING_BALANCE = Decimal("1000000000.00")
RETURN_REMARK = "BANK_RETURNED"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class _TradeTotals:
    lines: int = 0
    settled: Decimal = ZERO
    refunded: Decimal = ZERO
    fees: Decimal = ZERO
    ordered: Decimal = ZERO
    asked: Decimal = ZERO


def wechat_trade_write(entries: Iterable[Entry], out: Writable, *, appid: str, mchid: str, fee_rate: Decimal) -> None:
    """The trade bill (``bill_type`` ALL): payment and refund lines, then their summary."""
    sink = CsvSink(out)
    sink.row(TRADE_HEADER)
    totals = _TradeTotals()
    rate = f"{money(fee_rate * 100)}%"
    for entry in entries:
        refund = entry.kind == EntryKind.REFUND
        settled = ZERO if refund else entry.amount
        refunded = entry.amount if refund else ZERO
        ordered = entry.payment_amount
        fields = (
            entry.at.astimezone(CHINA).strftime(TIME_FORMAT),
            appid,
            mchid,
            "0",
            "",
            entry.payment_reference,
            entry.payment_order_no,
            entry.payer,
            entry.method,
            "REFUND" if refund else PAYMENT_STATUS[entry.status],
            "OTHERS",
            "CNY",
            money(settled),
            "0.00",
            entry.reference if refund else "0",
            entry.order_no if refund else "0",
            money(refunded),
            "0.00",
            "ORIGINAL" if refund else "",
            REFUND_STATUS[entry.status] if refund else "",
            entry.subject,
            "",
            money(entry.fee),
            rate,
            money(ordered),
            money(refunded),
            "",
        )
        sink.row(f"`{field}" for field in fields)
        totals.lines += 1
        totals.settled += settled
        totals.refunded += refunded
        totals.fees += entry.fee
        totals.ordered += ordered
        totals.asked += refunded
    sink.row(TRADE_SUMMARY_HEADER)
    summary = (
        str(totals.lines),
        money(totals.settled),
        money(totals.refunded),
        "0.00",
        money(totals.fees),
        money(totals.ordered),
        money(totals.asked),
    )
    sink.row(f"`{field}" for field in summary)
    sink.flush()


def wechat_fund_flow_write(entries: Iterable[Entry], out: Writable, *, mchid: str) -> None:
    """The basic account's fund flow: a transfer paid out (支出), a transfer given back (收入,
    业务类型 退款), a running balance, then the counts and sums of each way."""
    sink = CsvSink(out)
    sink.row(FUND_FLOW_HEADER)
    balance = OPENING_BALANCE
    counts = {"收入": 0, "支出": 0}
    sums = {"收入": ZERO, "支出": ZERO}
    for entry in entries:
        back = entry.kind == EntryKind.PAYOUT_RETURN
        way = "收入" if back else "支出"
        balance = balance + entry.amount if back else balance - entry.amount
        fields = (
            entry.at.astimezone(CHINA).strftime(TIME_FORMAT),
            entry.reference,
            f"{43 if back else 42}{entry.serial:026d}",
            "商家转账退回" if back else "商家转账",
            "退款" if back else "商家转账",
            way,
            money(entry.amount),
            money(balance),
            "system" if back else f"{mchid}API",
            RETURN_REMARK if back else "",
            entry.order_no,
        )
        sink.row(f"`{field}" for field in fields)
        counts[way] += 1
        sums[way] += entry.amount
    sink.row(FUND_FLOW_SUMMARY_HEADER)
    summary = (
        str(counts["收入"] + counts["支出"]),
        str(counts["收入"]),
        money(sums["收入"]),
        str(counts["支出"]),
        money(sums["支出"]),
    )
    sink.row(f"`{field}" for field in summary)
    sink.flush()
