"""A bill's lines as the rows of ``COPY reconciliation_billline``, written by a process of its
own (docs/RECONCILIATION.md, "Importing a bill").

Parsing a bill is Python work on one core; writing its rows is PostgreSQL's work on another.
``reconciliation.bills`` runs this module as a child process that parses the file and writes
COPY's text format to its standard output, while the importing process streams that output into
the COPY: on two cores a day of a million lines is imported in the time of its parsing alone.
It needs no Django (the parsers need none), so it starts in a fraction of a second.

    python -m reconciliation.bill_rows <adapter> <kind> <file id> <path>

Exit 0: the last line of standard error is ``{"count": n, "amount": "…", "fee": "…"}``.
Exit 2: the file is malformed, ``{"line_no": n, "reason": "…"}``; the rows written must be
discarded (the importing transaction rolls them back).
"""

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import TextIO

from payments.channels.bills import BillKind, BillLine, BillMalformed, LineKind, bill_parse

ORDER_NO_LENGTH = 64  # reconciliation.models.ORDER_NO_LENGTH (this module runs without Django)
BATCH = 1000
ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
MALFORMED = 2


def main(adapter: str, kind: str, file_id: int, path: str, out: TextIO, err: TextIO) -> int:
    count, amount, fee = 0, Decimal("0.00"), Decimal("0.00")
    batch: list[str] = []
    try:
        with open(path, "rb") as stream:
            for line in _checked(bill_parse(adapter, stream, BillKind(kind))):
                count += 1
                amount += line.amount
                if line.fee is not None:
                    fee += line.fee
                batch.append(copy_row(file_id, line))
                if len(batch) == BATCH:
                    out.write("".join(batch))
                    batch.clear()
    except BillMalformed as exc:
        err.write(json.dumps({"line_no": exc.line_no, "reason": exc.reason}, ensure_ascii=False) + "\n")
        return MALFORMED
    out.write("".join(batch))
    out.flush()
    err.write(json.dumps({"count": count, "amount": str(amount), "fee": str(fee)}) + "\n")
    return 0


def copy_row(file_id: int, line: BillLine) -> str:
    """One row in COPY's text format: written as text, a million rows cost a fraction of what
    adapting each value does."""
    fee = r"\N" if line.fee is None else str(line.fee)
    return (
        f"{file_id}\t{line.line_no}\t{line.kind.value}\t{_text(line.order_no)}\t{_text(line.parent_no)}\t"
        f"{_text(line.channel_reference[:64])}\t{line.amount}\t{fee}\t{line.status.value}\t"
        f"{_instant(line.occurred_at)}\n"
    )


@lru_cache(maxsize=1024)
def _instant(moment: datetime) -> str:
    """A bill's lines share their seconds: each is written out once."""
    return moment.isoformat()


def _checked(lines: Iterator[BillLine]) -> Iterator[BillLine]:
    """The parser's lines, refused where they do not fit the table."""
    for line in lines:
        if not line.order_no or len(line.order_no) > ORDER_NO_LENGTH:
            raise BillMalformed(line.line_no, f"order number must be 1 to {ORDER_NO_LENGTH} characters")
        if line.kind not in LineKind:
            raise BillMalformed(line.line_no, f"unknown line kind {line.kind!r}")
        yield line


def _text(value: str) -> str:
    """A field in COPY's text format: backslash, tab and line breaks escaped."""
    return value.translate(ESCAPES)


if __name__ == "__main__":
    adapter_name, bill_kind, file_pk, file_path = sys.argv[1:5]
    sys.exit(main(adapter_name, bill_kind, int(file_pk), file_path, sys.stdout, sys.stderr))
