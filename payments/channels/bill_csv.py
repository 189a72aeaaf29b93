"""Reading the text of a bill (docs/RECONCILIATION.md, "Bill formats"), shared by the channels'
parsers: its CSV rows with their line numbers, and its fields (amounts, counts, times), each
refused with a ``BillMalformed`` naming the line and the column.

Lines are read and decoded one at a time, so a file of any size takes constant memory and a
byte that does not decode is reported on its own line.
"""

import codecs
import csv
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from payments.channels.bills import BillMalformed

CHINA = ZoneInfo("Asia/Shanghai")
# No channel writes a line this long; a longer one is not a bill (and is not read into memory).
LINE_MAX_BYTES = 64 * 1024
# 16 integer digits at most: NUMERIC(18,2), like every amount here (docs/ARCHITECTURE.md §3).
_AMOUNT = re.compile(r"\d{1,16}\.\d{2}", re.ASCII)
_SIGNED_AMOUNT = re.compile(r"-?\d{1,16}\.\d{2}", re.ASCII)
_COUNT = re.compile(r"\d{1,9}", re.ASCII)
_CHINA_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_OFFSET_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", re.ASCII)
# What a damaged or cut-short gzip stream or zip member raises while it is read.
_DAMAGED = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


class LineSource(Protocol):
    """A binary file, a gzip stream or a zip member: anything that reads a line of bytes."""

    def readline(self, size: int = -1, /) -> bytes: ...


def rows(source: LineSource, *, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV row with the 1-based number of its (last) line. A UTF-8 file may open with a
    byte order mark; ``\\r\\n`` and ``\\n`` both end a line."""
    reader = csv.reader(_decoded_lines(source, encoding), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BillMalformed(reader.line_num, f"not CSV: {exc}") from exc
        yield reader.line_num, row


def columns_check(row: Sequence[str], expected: int, *, line_no: int) -> None:
    if len(row) != expected:
        raise BillMalformed(line_no, f"{len(row)} columns where the format has {expected}")


def header_check(row: Sequence[str], expected: Sequence[str], *, line_no: int, what: str) -> None:
    if list(row) != list(expected):
        raise BillMalformed(line_no, f"not the header of {what}: expected {','.join(expected)}")


def amount(value: str, *, line_no: int, column: str, signed: bool = False) -> Decimal:
    """Yuan with exactly two decimals (``12.30``; ``-0.06`` where ``signed``)."""
    if not (_SIGNED_AMOUNT if signed else _AMOUNT).fullmatch(value):
        kind = "an amount" if signed else "a positive amount"
        raise BillMalformed(line_no, f"{column} {value[:32]!r} is not {kind} of yuan with two decimals")
    return Decimal(value)


def count(value: str, *, line_no: int, column: str) -> int:
    if not _COUNT.fullmatch(value):
        raise BillMalformed(line_no, f"{column} {value[:32]!r} is not a count")
    return int(value)


def china_time(value: str, *, line_no: int, column: str) -> datetime:
    """``2026-12-06 10:00:05``, China time."""
    moment = _china_time(value)
    if moment is None:
        raise BillMalformed(line_no, f"{column} {value[:32]!r} is not a time yyyy-mm-dd hh:mm:ss")
    return moment


@lru_cache(maxsize=1024)
def _china_time(value: str) -> datetime | None:
    """Bills come in time order, a dozen lines a second on a busy day: each second is parsed once."""
    if _CHINA_TIME.fullmatch(value):
        with suppress(ValueError):  # a day or hour that does not exist
            return datetime.fromisoformat(value).replace(tzinfo=CHINA)
    return None


def offset_time(value: str, *, line_no: int, column: str) -> datetime:
    """``2026-12-06T10:00:07+08:00``, any offset, as China time."""
    if _OFFSET_TIME.fullmatch(value):
        with suppress(ValueError):
            return datetime.fromisoformat(value).astimezone(CHINA)
    raise BillMalformed(line_no, f"{column} {value[:32]!r} is not a time with its offset")


def required(value: str, *, line_no: int, column: str) -> str:
    if not value:
        raise BillMalformed(line_no, f"no {column}")
    return value


def summary_check(stated: object, counted: object, *, line_no: int, column: str) -> None:
    """A summary's (or trailer's) figure, named by ``column``, against what the detail lines make."""
    if stated != counted:
        raise BillMalformed(line_no, f"{column} is {stated}, the detail lines make {counted}")


def _decoded_lines(source: LineSource, encoding: str) -> Iterator[str]:
    line_no = 0
    while True:
        line_no += 1
        try:
            raw = source.readline(LINE_MAX_BYTES + 1)
        except _DAMAGED as exc:
            raise BillMalformed(line_no, f"the file is damaged or cut short ({exc})") from exc
        if not raw:
            return
        if len(raw) > LINE_MAX_BYTES:
            raise BillMalformed(line_no, f"a line longer than {LINE_MAX_BYTES} bytes")
        if line_no == 1 and encoding == "utf-8":
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise BillMalformed(line_no, f"not {encoding.upper()} text") from exc
