"""Cell widgets of the export Resources: one value, two renderings.

CSV gets text (``render``); XLSX gets a typed value (``render(value, typed=True)``) with the
widget's ``number_format``, so a spreadsheet sums amounts, sorts ids as numbers and filters
dates, instead of holding every cell as text. Times are shown in settings.TIME_ZONE and written
naive: spreadsheets have no time zones, and an auditor reads local time.
"""

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from import_export import widgets

# First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LOCAL_DATETIME = "%Y-%m-%d %H:%M:%S"


class CellWidget(widgets.Widget):
    """``render`` returns the text of a value, or its typed cell value when ``typed=True``."""

    number_format: str | None = None

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return None if kwargs.get("typed") else ""
        return self.typed(value) if kwargs.get("typed") else self.text(value)

    def typed(self, value):
        return self.text(value)

    def text(self, value) -> str:
        return str(value)


class MoneyWidget(CellWidget):
    """A Decimal amount: a number cell with two places in XLSX, ``"1234.50"`` in CSV."""

    number_format = "#,##0.00"

    def typed(self, value) -> Decimal:
        return Decimal(value).quantize(Decimal("0.01"))

    def text(self, value) -> str:
        return f"{Decimal(value):.2f}"


class IntegerWidget(CellWidget):
    """Ids and counts: integer cells, not text."""

    number_format = "0"

    def typed(self, value) -> int:
        return int(value)


class DateTimeWidget(CellWidget):
    """A moment as local wall time, a date-time cell in XLSX."""

    number_format = "yyyy-mm-dd hh:mm:ss"

    def typed(self, value: datetime) -> datetime:
        return timezone.localtime(value).replace(tzinfo=None, microsecond=0)

    def text(self, value: datetime) -> str:
        return self.typed(value).strftime(LOCAL_DATETIME)


class DateWidget(CellWidget):
    number_format = "yyyy-mm-dd"

    def typed(self, value: date) -> date:
        return value

    def text(self, value: date) -> str:
        return value.isoformat()


class TextWidget(CellWidget):
    """Free text that a spreadsheet shows instead of running.

    Memos, references and keys come from clients, so a risky first character gets an
    apostrophe, which keeps the text intact for the auditor (stripping would change it). XLSX
    needs it too: a string starting with "=" is written as a formula.
    """

    def text(self, value) -> str:
        text = str(value)
        return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text
