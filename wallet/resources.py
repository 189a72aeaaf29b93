"""Export layouts of the ledger for auditors (docs/ARCHITECTURE.md §10); exports only, nothing is imported.

The columns only: wallet.exports writes the file, with typed cells in XLSX (amounts as numbers,
ids as integers, local date-times) and text in CSV (wallet.exports.widgets). Accounts are named
by their owner's username beside their code, so an auditor reads who, not ``user:6:CNY``.
"""

from import_export import fields, resources

from wallet.exports.widgets import DateTimeWidget, IntegerWidget, MoneyWidget, TextWidget
from wallet.models import Entry, Transfer


class EntryResource(resources.ModelResource):
    id = fields.Field(attribute="id", widget=IntegerWidget())
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
    transfer_id = fields.Field(attribute="transfer_id", widget=IntegerWidget())
    kind = fields.Field(attribute="transfer__kind", widget=TextWidget())
    account = fields.Field(attribute="account__code", widget=TextWidget())
    account_kind = fields.Field(attribute="account__kind", widget=TextWidget())
    username = fields.Field(attribute="account__owner__username", widget=TextWidget())
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
            "account_kind",
            "username",
            "amount",
            "balance_after",
            "memo",
            "reference",
        )


class TransferResource(resources.ModelResource):
    """``amount`` is the money the transfer moves, annotated by ``TransferAdmin.get_queryset``."""

    id = fields.Field(attribute="id", widget=IntegerWidget())
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
    kind = fields.Field(attribute="kind", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    idempotency_key = fields.Field(attribute="idempotency_key", widget=TextWidget())
    reference = fields.Field(attribute="reference", widget=TextWidget())
    memo = fields.Field(attribute="memo", widget=TextWidget())

    class Meta:
        model = Transfer
        fields = export_order = ("id", "created_at", "kind", "amount", "idempotency_key", "reference", "memo")
