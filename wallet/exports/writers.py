"""Streaming writers: one row at a time to a file, so memory stays flat however many rows.

XLSX uses openpyxl's write-only workbook (rows go to a temporary file, not a cell tree) with
typed cells, a named sheet and the header row frozen; CSV is UTF-8 with a byte order mark,
which Excel needs to read Chinese text as UTF-8.
"""

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# Excel refuses these in a sheet name and cuts names at 31 characters.
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31
COLUMN_WIDTH = 18


class SheetWriter(Protocol):
    def write_row(self, values: Iterable[object]) -> None: ...

    def close(self) -> None: ...


def sheet_name(title: str) -> str:
    return SHEET_NAME_FORBIDDEN.sub(" ", title).strip()[:SHEET_NAME_MAX] or "Export"


class CsvWriter:
    def __init__(self, path: Path, *, headers: list[str]) -> None:
        self._stream = io.TextIOWrapper(path.open("wb"), encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._stream)
        self._writer.writerow(headers)

    def write_row(self, values: Iterable[object]) -> None:
        self._writer.writerow(values)

    def close(self) -> None:
        self._stream.close()


class XlsxWriter:
    """``number_formats`` holds one Excel number format (or None) per column."""

    def __init__(self, path: Path, *, headers: list[str], title: str, number_formats: list[str | None]) -> None:
        self._path = path
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(sheet_name(title))
        self._sheet.freeze_panes = "A2"
        for index in range(1, len(headers) + 1):
            self._sheet.column_dimensions[get_column_letter(index)].width = COLUMN_WIDTH
        self._formats = number_formats
        bold = Font(bold=True)
        self._sheet.append([self._cell(header, font=bold) for header in headers])

    def write_row(self, values: Iterable[object]) -> None:
        self._sheet.append(
            [
                value if number_format is None or value is None else self._cell(value, number_format=number_format)
                for value, number_format in zip(values, self._formats, strict=True)
            ]
        )

    def close(self) -> None:
        self._workbook.save(self._path)

    def _cell(self, value: object, *, number_format: str | None = None, font: Font | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(self._sheet, value=value)
        if number_format:
            cell.number_format = number_format
        if font:
            cell.font = font
        return cell
