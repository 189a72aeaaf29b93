"""The bank gateway's payout bill (docs/RECONCILIATION.md, "Bank payout gateway bill"): a UTF-8
CSV of the day's finished payouts and a ``TRAILER`` line that counts and sums them. A
``RETURNED`` row (paid, then bounced) reads as two lines, the payout and its return.

The gateway only pays out: there is no trade bill, and asking for one is the caller's mistake,
a ``ValueError``, not a malformed file.
"""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import BinaryIO

from payments.channels import bill_csv
from payments.channels.bills import BillKind, BillLine, BillMalformed, LineKind, LineStatus

HEADER = ("finished_at", "order_no", "payout_id", "amount", "fee", "status", "fail_code")
TRAILER = "TRAILER"
TRAILER_COLUMNS = 4
STATUSES = {"SUCCESS": LineStatus.SUCCESS, "FAILED": LineStatus.FAILED, "RETURNED": LineStatus.RETURNED}


def bill_parse(stream: BinaryIO, kind: BillKind) -> Iterator[BillLine]:
    """The lines of the day's payout bill.

    Lines come as they are read; the trailer is checked once they are all read, so a trailer
    that disagrees raises ``BillMalformed`` after every line was yielded: the caller keeps
    nothing of a file that raised.
    """
    if kind != BillKind.PAYOUT:
        raise ValueError("The bank gateway has no trade bill: it only pays out")
    return _payout_lines(stream)


def _payout_lines(stream: BinaryIO) -> Iterator[BillLine]:
    rows = bill_csv.rows(stream, encoding="utf-8")
    first = next(rows, None)
    if first is None:
        raise BillMalformed(1, "the file is empty")
    bill_csv.header_check(first[1], HEADER, line_no=first[0], what="the bank gateway's payout bill")
    amounts, fees = Decimal(0), Decimal(0)
    last_line_no = first[0]
    for detail_lines_before, (line_no, row) in enumerate(rows):
        last_line_no = line_no
        if row[:1] == [TRAILER]:
            _trailer_check(line_no, row, lines=detail_lines_before, amounts=amounts, fees=fees)
            extra = next(rows, None)
            if extra is not None:
                raise BillMalformed(extra[0], "a line after the TRAILER")
            return
        line = _payout_line(line_no, row)
        if line.status == LineStatus.RETURNED:
            # Paid, then given back: the payout and its return, as the WeChat fund flow lists them.
            yield replace(line, status=LineStatus.SUCCESS)
            yield replace(line, fee=Decimal("0.00"))
        else:
            yield line
        amounts += line.amount
        fees += line.fee or Decimal(0)
    raise BillMalformed(last_line_no + 1, "the file ends without its TRAILER line")


def _payout_line(line_no: int, row: list[str]) -> BillLine:
    bill_csv.columns_check(row, len(HEADER), line_no=line_no)
    fields = dict(zip(HEADER, row, strict=True))
    status = STATUSES.get(fields["status"])
    if status is None:
        raise BillMalformed(line_no, f"status {fields['status'][:32]!r} is not SUCCESS, FAILED or RETURNED")
    return BillLine(
        line_no=line_no,
        kind=LineKind.PAYOUT,
        order_no=bill_csv.required(fields["order_no"], line_no=line_no, column="order_no"),
        channel_reference=bill_csv.required(fields["payout_id"], line_no=line_no, column="payout_id"),
        amount=bill_csv.amount(fields["amount"], line_no=line_no, column="amount"),
        fee=bill_csv.amount(fields["fee"], line_no=line_no, column="fee"),
        status=status,
        occurred_at=bill_csv.offset_time(fields["finished_at"], line_no=line_no, column="finished_at"),
    )


def _trailer_check(line_no: int, row: list[str], *, lines: int, amounts: Decimal, fees: Decimal) -> None:
    """``TRAILER,<count of lines>,<sum of amount>,<sum of fee>``."""
    bill_csv.columns_check(row, TRAILER_COLUMNS, line_no=line_no)
    stated_lines = bill_csv.count(row[1], line_no=line_no, column="the TRAILER's count")
    bill_csv.summary_check(stated_lines, lines, line_no=line_no, column="the TRAILER's count")
    for column, stated, counted in (("amount", row[2], amounts), ("fee", row[3], fees)):
        stated_sum = bill_csv.amount(stated, line_no=line_no, column=f"the TRAILER's {column}")
        bill_csv.summary_check(stated_sum, counted, line_no=line_no, column=f"the TRAILER's {column}")
