"""CSV rows into a binary stream, a batch at a time: what every sandbox bill writer writes with,
so a bill of any length takes constant memory and the stream only needs ``write(bytes)``."""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from wallet.money import ZERO, format_amount

BATCH_ROWS = 1000


class Writable(Protocol):
    """Where a bill is written: a file, a gzip stream, a zip member, a hashing pass-through."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class CsvSink:
    """Rows (and raw lines, for comments) encoded and written every ``BATCH_ROWS``; ``flush``
    writes what is left."""

    def __init__(self, out: Writable, *, encoding: str = "utf-8", line_end: str = "\r\n") -> None:
        self.out = out
        self.encoding = encoding
        self.line_end = line_end
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator=line_end)
        self.pending = 0

    def row(self, fields: Iterable[str]) -> None:
        self.writer.writerow(fields)
        self._count()

    def line(self, text: str) -> None:
        self.buffer.write(f"{text}{self.line_end}")
        self._count()

    def flush(self) -> None:
        # A channel's GBK bill cannot carry what GBK has no code for: "?" stands in, as there.
        self.out.write(self.buffer.getvalue().encode(self.encoding, errors="replace"))
        self.buffer.seek(0)
        self.buffer.truncate()
        self.pending = 0

    def _count(self) -> None:
        self.pending += 1
        if self.pending >= BATCH_ROWS:
            self.flush()


def money(value: Decimal) -> str:
    """``12.30``, ``-0.06``; never ``-0.00``."""
    return format_amount(value + ZERO)
