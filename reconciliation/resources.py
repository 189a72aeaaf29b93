"""Export layouts of reconciliation runs, discrepancies and the desk's transitions for auditors
(docs/ARCHITECTURE.md §10).

Cells as in wallet.resources: amounts, ids, counts, dates and local date-times typed in XLSX,
free text guarded against spreadsheet formulas.
"""

from import_export import fields, resources

from payments.transition_logs import TransitionLogResource
from reconciliation.models import Discrepancy, DiscrepancyTransition, Run
from wallet.exports.widgets import DateTimeWidget, DateWidget, IntegerWidget, MoneyWidget, TextWidget


def _text(attribute: str) -> fields.Field:
    return fields.Field(attribute=attribute, widget=TextWidget())


def _money(attribute: str) -> fields.Field:
    return fields.Field(attribute=attribute, widget=MoneyWidget())


def _count(attribute: str) -> fields.Field:
    return fields.Field(attribute=attribute, widget=IntegerWidget())


class RunResource(resources.ModelResource):
    id = _count("id")
    channel = _text("channel__code")
    bill_date = fields.Field(attribute="bill_date", widget=DateWidget())
    kind = _text("kind")
    status = _text("status")
    bill_file = _text("file__filename")
    bill_sha256 = _text("file__sha256")
    bill_lines = _count("bill_lines")
    bill_amount = _money("bill_amount")
    local_records = _count("local_records")
    local_amount = _money("local_amount")
    matched = _count("matched")
    local_only = _count("local_only")
    channel_only = _count("channel_only")
    amount_mismatch = _count("amount_mismatch")
    status_mismatch = _count("status_mismatch")
    fee_mismatch = _count("fee_mismatch")
    pooled = _count("pooled")
    pool_settled = _count("pool_settled")
    fees_booked = _money("fees_booked")
    clearing_balance = _money("clearing_balance")
    clearing_expected = _money("clearing_expected")
    clearing_difference = _money("clearing_difference")
    started_by = _text("started_by__username")
    started_at = fields.Field(attribute="started_at", widget=DateTimeWidget())
    finished_at = fields.Field(attribute="finished_at", widget=DateTimeWidget())
    error = _text("error")

    class Meta:
        model = Run
        fields = export_order = (
            "id",
            "channel",
            "bill_date",
            "kind",
            "status",
            "bill_file",
            "bill_sha256",
            "bill_lines",
            "bill_amount",
            "local_records",
            "local_amount",
            "matched",
            "local_only",
            "channel_only",
            "amount_mismatch",
            "status_mismatch",
            "fee_mismatch",
            "pooled",
            "pool_settled",
            "fees_booked",
            "clearing_balance",
            "clearing_expected",
            "clearing_difference",
            "started_by",
            "started_at",
            "finished_at",
            "error",
        )


class DiscrepancyResource(resources.ModelResource):
    id = _count("id")
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
    kind = _text("kind")
    channel = _text("channel__code")
    bill_date = fields.Field(attribute="bill_date", widget=DateWidget())
    run = _count("run_id")
    object_kind = _text("object_kind")
    order_no = _text("order_no")
    local_amount = _money("local_amount")
    channel_amount = _money("channel_amount")
    local_status = _text("local_status")
    channel_status = _text("channel_status")
    local_fee = _money("local_fee")
    channel_fee = _money("channel_fee")
    detail = _text("detail")
    status = _text("status")
    proposed_action = _text("proposed_action")
    proposed_amount = _money("proposed_amount")
    proposed_by = _text("proposed_by__username")
    proposed_at = fields.Field(attribute="proposed_at", widget=DateTimeWidget())
    proposal_reason = _text("proposal_reason")
    approved_by = _text("approved_by__username")
    resolution = _text("resolution")
    finished_at = fields.Field(attribute="finished_at", widget=DateTimeWidget())

    class Meta:
        model = Discrepancy
        fields = export_order = (
            "id",
            "created_at",
            "kind",
            "channel",
            "bill_date",
            "run",
            "object_kind",
            "order_no",
            "local_amount",
            "channel_amount",
            "local_status",
            "channel_status",
            "local_fee",
            "channel_fee",
            "detail",
            "status",
            "proposed_action",
            "proposed_amount",
            "proposed_by",
            "proposed_at",
            "proposal_reason",
            "approved_by",
            "resolution",
            "finished_at",
        )


class DiscrepancyTransitionResource(TransitionLogResource):
    """The log's rows name the discrepancy by its id as well: one order may have several."""

    discrepancy = _count("object_id")

    class Meta:
        model = DiscrepancyTransition
        fields = export_order = (
            "timestamp",
            "discrepancy",
            "order_no",
            "transition",
            "source_state",
            "state",
            "by",
            "description",
        )
