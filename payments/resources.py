"""Export layouts of withdrawals, payment orders, refunds, payment events and their transition
logs for auditors (DESIGN §10).

Cells are text, as in wallet.resources: money as two-place strings, times in ISO 8601 with their
offset, client-supplied text guarded against spreadsheet formulas. Payout accounts appear masked.
"""

import json

from django.utils import timezone
from import_export import fields, resources, widgets

from payments.models import (
    PaymentEvent,
    PaymentOrder,
    PaymentTransition,
    Refund,
    RefundTransition,
    Withdrawal,
    WithdrawalTransition,
)
from wallet.resources import IsoDateTimeWidget, MoneyWidget, TextWidget


class ApprovalsWidget(widgets.Widget):
    """``"reviewer1 2026-11-28T10:00:00+08:00; supervisor1 ..."`` in approval order."""

    def render(self, value, obj=None, **kwargs):
        approvals = sorted(value.all(), key=lambda approval: approval.created_at) if value is not None else []
        return "; ".join(
            f"{approval.actor.get_username()} {timezone.localtime(approval.created_at).isoformat()}"
            for approval in approvals
        )


class RiskReasonsWidget(widgets.Widget):
    """The messages of the rules that fired, from the order's RiskEvaluation."""

    def render(self, value, obj=None, **kwargs):
        return TextWidget().render("; ".join(value.reasons) if value is not None else "")


class JsonTextWidget(widgets.Widget):
    """A (masked) payload as compact JSON text, guarded like any client-supplied text."""

    def render(self, value, obj=None, **kwargs):
        return TextWidget().render(json.dumps(value or {}, ensure_ascii=False, sort_keys=True))


class WithdrawalResource(resources.ModelResource):
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
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
    approvals_required = fields.Field(attribute="approvals_required", widget=widgets.Widget())
    approvals = fields.Field(attribute="approvals", widget=ApprovalsWidget())
    approved_at = fields.Field(attribute="approved_at", widget=IsoDateTimeWidget())
    finished_at = fields.Field(attribute="finished_at", widget=IsoDateTimeWidget())
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


class WithdrawalTransitionResource(resources.ModelResource):
    """``order_no`` is annotated by the admin's queryset (the log refers to orders by id)."""

    timestamp = fields.Field(attribute="timestamp", widget=IsoDateTimeWidget())
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    transition = fields.Field(attribute="transition", widget=TextWidget())
    source_state = fields.Field(attribute="source_state", widget=TextWidget())
    state = fields.Field(attribute="state", widget=TextWidget())
    by = fields.Field(attribute="by__username", widget=TextWidget())
    description = fields.Field(attribute="description", widget=TextWidget())

    class Meta:
        model = WithdrawalTransition
        fields = export_order = ("timestamp", "order_no", "transition", "source_state", "state", "by", "description")


class PaymentOrderResource(resources.ModelResource):
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
    user = fields.Field(attribute="user__username", widget=TextWidget())
    business_type = fields.Field(attribute="business_type", widget=TextWidget())
    business_order_no = fields.Field(attribute="business_order_no", widget=TextWidget())
    method = fields.Field(attribute="method", widget=TextWidget())
    channel = fields.Field(attribute="channel__code", widget=TextWidget())
    client_type = fields.Field(attribute="client_type", widget=TextWidget())
    subject = fields.Field(attribute="subject", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    fee = fields.Field(attribute="fee", widget=MoneyWidget())
    refunded_amount = fields.Field(attribute="refunded_amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", widget=TextWidget())
    status = fields.Field(attribute="status", widget=TextWidget())
    transaction_id = fields.Field(attribute="transaction_id", widget=TextWidget())
    paid_at = fields.Field(attribute="paid_at", widget=IsoDateTimeWidget())
    expires_at = fields.Field(attribute="expires_at", widget=IsoDateTimeWidget())
    finished_at = fields.Field(attribute="finished_at", widget=IsoDateTimeWidget())
    status_reason = fields.Field(attribute="status_reason", widget=TextWidget())

    class Meta:
        model = PaymentOrder
        fields = export_order = (
            "order_no",
            "created_at",
            "user",
            "business_type",
            "business_order_no",
            "method",
            "channel",
            "client_type",
            "subject",
            "amount",
            "fee",
            "refunded_amount",
            "currency",
            "status",
            "transaction_id",
            "paid_at",
            "expires_at",
            "finished_at",
            "status_reason",
        )


class RefundResource(resources.ModelResource):
    refund_no = fields.Field(attribute="refund_no", widget=TextWidget())
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
    order_no = fields.Field(attribute="payment_order__order_no", widget=TextWidget())
    channel = fields.Field(attribute="payment_order__channel__code", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", widget=TextWidget())
    status = fields.Field(attribute="status", widget=TextWidget())
    reason = fields.Field(attribute="reason", widget=TextWidget())
    requested_by = fields.Field(attribute="requested_by__username", widget=TextWidget())
    channel_refund_id = fields.Field(attribute="channel_refund_id", widget=TextWidget())
    failure_code = fields.Field(attribute="failure_code", widget=TextWidget())
    finished_at = fields.Field(attribute="finished_at", widget=IsoDateTimeWidget())

    class Meta:
        model = Refund
        fields = export_order = (
            "refund_no",
            "created_at",
            "order_no",
            "channel",
            "amount",
            "currency",
            "status",
            "reason",
            "requested_by",
            "channel_refund_id",
            "failure_code",
            "finished_at",
        )


class PaymentEventResource(resources.ModelResource):
    created_at = fields.Field(attribute="created_at", widget=IsoDateTimeWidget())
    channel = fields.Field(attribute="channel__code", widget=TextWidget())
    reference = fields.Field(attribute="reference", widget=TextWidget())
    operation = fields.Field(attribute="operation", widget=TextWidget())
    kind = fields.Field(attribute="kind", widget=TextWidget())
    outcome = fields.Field(attribute="outcome", widget=TextWidget())
    state = fields.Field(attribute="state", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    message = fields.Field(attribute="message", widget=TextWidget())
    payload = fields.Field(attribute="payload", widget=JsonTextWidget())

    class Meta:
        model = PaymentEvent
        fields = export_order = (
            "created_at",
            "channel",
            "reference",
            "operation",
            "kind",
            "outcome",
            "state",
            "amount",
            "message",
            "payload",
        )


class PaymentTransitionResource(WithdrawalTransitionResource):
    class Meta(WithdrawalTransitionResource.Meta):
        model = PaymentTransition


class RefundTransitionResource(WithdrawalTransitionResource):
    class Meta(WithdrawalTransitionResource.Meta):
        model = RefundTransition
