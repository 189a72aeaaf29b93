"""Export layouts of payment orders, refunds, payment events and their transition logs for
auditors: cells as in wallet.resources (typed in XLSX), payloads masked."""

import json

from import_export import fields, resources, widgets

from payments.orders.models import PaymentEvent, PaymentOrder, PaymentTransition, Refund, RefundTransition
from payments.transition_logs import TransitionLogResource
from wallet.exports.widgets import DateTimeWidget, MoneyWidget, TextWidget


class JsonTextWidget(widgets.Widget):
    """A (masked) payload as compact JSON text, guarded like any client-supplied text."""

    def render(self, value, obj=None, **kwargs):
        return TextWidget().render(json.dumps(value or {}, ensure_ascii=False, sort_keys=True))


class PaymentOrderResource(resources.ModelResource):
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
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
    paid_at = fields.Field(attribute="paid_at", widget=DateTimeWidget())
    expires_at = fields.Field(attribute="expires_at", widget=DateTimeWidget())
    finished_at = fields.Field(attribute="finished_at", widget=DateTimeWidget())
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
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
    order_no = fields.Field(attribute="payment_order__order_no", widget=TextWidget())
    channel = fields.Field(attribute="payment_order__channel__code", widget=TextWidget())
    amount = fields.Field(attribute="amount", widget=MoneyWidget())
    currency = fields.Field(attribute="currency", widget=TextWidget())
    status = fields.Field(attribute="status", widget=TextWidget())
    reason = fields.Field(attribute="reason", widget=TextWidget())
    requested_by = fields.Field(attribute="requested_by__username", widget=TextWidget())
    channel_refund_id = fields.Field(attribute="channel_refund_id", widget=TextWidget())
    failure_code = fields.Field(attribute="failure_code", widget=TextWidget())
    finished_at = fields.Field(attribute="finished_at", widget=DateTimeWidget())

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
    created_at = fields.Field(attribute="created_at", widget=DateTimeWidget())
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


class PaymentTransitionResource(TransitionLogResource):
    class Meta(TransitionLogResource.Meta):
        model = PaymentTransition


class RefundTransitionResource(TransitionLogResource):
    class Meta(TransitionLogResource.Meta):
        model = RefundTransition
