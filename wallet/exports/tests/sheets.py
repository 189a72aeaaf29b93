"""Reading export files back in tests: each cell as the CSV would write it, whatever the format,
so one assertion covers both (XLSX types are checked in wallet/exports/tests/test_files.py)."""

import csv
import io

import openpyxl
from openpyxl.cell.cell import Cell

from wallet.exports.widgets import LOCAL_DATETIME, MoneyWidget


def cell_text(cell: Cell) -> str:
    if cell.value is None:
        return ""
    if cell.is_date:
        return cell.value.strftime(LOCAL_DATETIME if cell.number_format.endswith("ss") else "%Y-%m-%d")
    if cell.number_format == MoneyWidget.number_format:
        return f"{cell.value:.2f}"
    return str(cell.value)


def export_table(content: bytes, file_format: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of an export file, every cell as text."""
    if file_format == "csv":
        assert content.startswith(b"\xef\xbb\xbf"), "the CSV has no UTF-8 byte order mark"
        header, *body = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        header, *body = [[cell_text(cell) for cell in row] for row in sheet.iter_rows()]
    return list(header), [dict(zip(header, row, strict=True)) for row in body]
