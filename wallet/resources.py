"""Export layouts of the ledger for auditors (docs/ARCHITECTURE.md §10); exports only, nothing is imported.

Every cell is text in CSV and XLSX alike: money as a two-place string and times as ISO 8601
with their offset, so a spreadsheet never turns an amount into a float or drops a timezone.
"""

from django.utils import timezone
from import_export import fields, resources, widgets

from wallet.models import Entry, Transfer

# First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class MoneyWidget(widgets.Widget):
    """``"12.34"``: import-export would hand XLSX a native number, which spreadsheets make a float."""

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else f"{value:.2f}"


class IsoDateTimeWidget(widgets.Widget):
    def render(self, value, obj=None, **kwargs):
        return "" if value is None else timezone.localtime(value).isoformat()


class TextWidget(widgets.Widget):
    """Free text that a spreadsheet shows instead of running.

    IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT strips one leading "=" only: "==HYPERLINK(...)" is
    still a live formula in XLSX, and "+", "-", "@" pass untouched. Memos, references and keys
    come from clients, so a risky first character gets an apostrophe, which keeps the text
    intact for the auditor (stripping would change it).
    """

    def render(self, value, obj=None, **kwargs):
        text = "" if value is None else str(value)
        return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


class EntryResource(resources.ModelResource):
    id = fields.Field(attribute="id", widget=widgets.Widget())
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
    transfer_id = fields.Field(attribute="transfer_id", widget=widgets.Widget())
    kind = fields.Field(attribute="transfer__kind", widget=TextWidget())
    account = fields.Field(attribute="account__code", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    balance_after = fields.Field(attribute="balance_after", widget=MoneyWidget())
    memo = fields.Field(attribute="transfer__memo", widget=TextWidget())
    reference = fields.Field(attribute="transfer__reference", widget=TextWidget())

    class Meta:
        model = Entry
        fields = export_order = (
            "id",
            "created_at",
            "transfer_id",
            "kind",
            "account",
            "amount",
            "balance_after",
            "memo",
            "reference",
        )


class TransferResource(resources.ModelResource):
    """``amount`` is the money the transfer moves, annotated by ``TransferAdmin.get_queryset``."""

    id = fields.Field(attribute="id", widget=widgets.Widget())
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
    kind = fields.Field(attribute="kind", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    idempotency_key = fields.Field(attribute="idempotency_key", widget=TextWidget())
    reference = fields.Field(attribute="reference", widget=TextWidget())
    memo = fields.Field(attribute="memo", widget=TextWidget())

    class Meta:
        model = Transfer
        fields = export_order = ("id", "created_at", "kind", "amount", "idempotency_key", "reference", "memo")
