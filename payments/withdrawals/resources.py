"""Export layouts of withdrawals and their transition log for auditors (docs/ARCHITECTURE.md §10).

Cells as in wallet.resources: amounts, counts and local date-times typed in XLSX, client-supplied
text guarded against spreadsheet formulas. Payout accounts appear masked.
"""

from import_export import fields, resources, widgets

from payments.transition_logs import TransitionLogResource
from payments.withdrawals.models import Withdrawal, WithdrawalTransition
from wallet.exports.widgets import DateTimeWidget, IntegerWidget, MoneyWidget, TextWidget


class ApprovalsWidget(widgets.Widget):
    """``"reviewer1 2026-11-28 10:00:00; supervisor1 ..."`` in approval order, local times."""

    def render(self, value, obj=None, **kwargs):
        approvals = sorted(value.all(), key=lambda approval: approval.created_at) if value is not None else []
        return "; ".join(
            f"{approval.actor.get_username()} {DateTimeWidget().text(approval.created_at)}" for approval in approvals
        )


class RiskReasonsWidget(widgets.Widget):
    """The messages of the rules that fired, from the order's RiskEvaluation."""

    def render(self, value, obj=None, **kwargs):
        return TextWidget().render("; ".join(value.reasons) if value is not None else "")


class WithdrawalResource(resources.ModelResource):
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
    user = fields.Field(attribute="user__username", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    fee = fields.Field(attribute="fee", widget=MoneyWidget())
    actual_amount = fields.Field(attribute="actual_amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", widget=TextWidget())
    status = fields.Field(attribute="status", widget=TextWidget())
    channel = fields.Field(attribute="channel__code", widget=TextWidget())
    payout_account = fields.Field(attribute="payout_account__display", widget=TextWidget())
    risk_outcome = fields.Field(attribute="risk_evaluation__outcome", widget=TextWidget())
    risk_reasons = fields.Field(attribute="risk_evaluation", widget=RiskReasonsWidget())
    approvals_required = fields.Field(attribute="approvals_required", widget=IntegerWidget())
    approvals = fields.Field(attribute="approvals", widget=ApprovalsWidget())
    approved_at = fields.Field(attribute="approved_at", widget=DateTimeWidget())
    finished_at = fields.Field(attribute="finished_at", widget=DateTimeWidget())
    status_reason = fields.Field(attribute="status_reason", widget=TextWidget())
    channel_reference = fields.Field(attribute="channel_reference", widget=TextWidget())

    class Meta:
        model = Withdrawal
        fields = export_order = (
            "order_no",
            "created_at",
            "user",
            "amount",
            "fee",
            "actual_amount",
            "currency",
            "status",
            "channel",
            "payout_account",
            "risk_outcome",
            "risk_reasons",
            "approvals_required",
            "approvals",
            "approved_at",
            "finished_at",
            "status_reason",
            "channel_reference",
        )


class WithdrawalTransitionResource(TransitionLogResource):
    class Meta(TransitionLogResource.Meta):
        model = WithdrawalTransition
