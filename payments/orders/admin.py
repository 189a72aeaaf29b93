"""Payment orders, refunds and their channel events in the admin (docs/ARCHITECTURE.md §10).

All read-only. Staff with ``sync_paymentorder`` may re-query open orders at the channel and
close them (which asks the channel first, so a paid order becomes success, never closed);
staff with ``sync_refund`` may re-query processing refunds. The actions call the services and
show what became of each order. A native QR code is drawn on the order's page.
"""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.orders import refunds, services
from payments.orders.models import PaymentEvent, PaymentOrder, PaymentTransition, Refund, RefundTransition
from payments.orders.resources import (
    PaymentEventResource,
    PaymentOrderResource,
    PaymentTransitionResource,
    RefundResource,
    RefundTransitionResource,
)
from wallet import qr
from wallet.adminkit import DateRangeFilter, ReadOnlyMixin, StreamingExportMixin, TransitionLogAdmin
from wallet.errors import ApplicationError


class EventInline(ReadOnlyMixin, admin.TabularInline):
    model = PaymentEvent
    fk_name = "payment_order"
    fields = ("created_at", "operation", "kind", "outcome", "state", "amount", "refund", "message", "payload")
    ordering = ("created_at", "id")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("refund")


class RefundInline(ReadOnlyMixin, admin.TabularInline):
    model = Refund
    fields = ("refund_no", "amount", "status", "reason", "requested_by", "created_at", "finished_at")
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")


@admin.register(PaymentOrder)
class PaymentOrderAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    # Django 6's default; without it Django 5 warns when it builds the (read-only) form.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    resource_classes = [PaymentOrderResource]
    list_display = (
        "order_no",
        "created_at",
        "user",
        "merchant_account",
        "business_type",
        "method",
        "channel",
        "amount",
        "refunded_amount",
        "status",
        "expires_at",
        "paid_at",
    )
    # By the account it settles to: a merchant's orders, those before merchants included.
    list_filter = (
        "status",
        "business_type",
        "method",
        "channel",
        ("merchant_account", admin.RelatedOnlyFieldListFilter),
        ("created_at", DateRangeFilter),
    )
    list_select_related = ("user", "channel", "merchant_account")
    search_fields = ("order_no__exact", "business_order_no__exact", "transaction_id__exact", "user__username__exact")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    readonly_fields = ("qr_code",)
    inlines = [RefundInline, EventInline]
    actions = ["sync_selected", "close_selected"]

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("user", "channel")

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.sync_paymentorder")

    @admin.display(description=_("QR code (WeChat native)"))
    def qr_code(self, order: PaymentOrder) -> str:
        code_url = (order.pay_params or {}).get("code_url")
        if not code_url or order.status != PaymentOrder.Status.PAYING:
            return "-"
        return format_html(
            '<img src="{}" alt="{}" width="200">',
            qr.qr_data_uris(code_url)[0],
            gettext("QR code of %(url)s") % {"url": code_url},
        )

    @admin.action(description=_("Re-query the selected orders at the channel"), permissions=["sync"])
    def sync_selected(self, request, queryset: QuerySet[PaymentOrder]):
        for order in queryset.select_related("channel"):
            order = services.payment_order_sync(order=order)
            self.message_user(request, f"{order.order_no}: {order.get_status_display()}.", messages.INFO)

    @admin.action(description=_("Close the selected open orders (asks the channel first)"), permissions=["sync"])
    def close_selected(self, request, queryset: QuerySet[PaymentOrder]):
        for order in queryset.select_related("channel"):
            try:
                order = services.payment_order_close(order=order, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{order.order_no}: {error.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if order.status == PaymentOrder.Status.CLOSED else messages.WARNING
            self.message_user(request, f"{order.order_no}: {order.get_status_display()}.", level)


@admin.register(Refund)
class RefundAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    resource_classes = [RefundResource]
    list_display = ("refund_no", "created_at", "payment_order", "amount", "status", "reason", "finished_at")
    list_filter = ("status", ("created_at", DateRangeFilter))
    list_select_related = ("payment_order",)
    search_fields = ("refund_no__exact", "payment_order__order_no__exact", "channel_refund_id__exact")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ["sync_selected"]

    def get_export_queryset(self, request):
        return (
            super()
            .get_export_queryset(request)
            .select_related("payment_order", "payment_order__channel", "requested_by")
        )

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.sync_refund")

    @admin.action(description=_("Re-query the selected processing refunds at the channel"), permissions=["sync"])
    def sync_selected(self, request, queryset: QuerySet[Refund]):
        for refund in queryset:
            refund = refunds.refund_sync(refund=refund)
            self.message_user(request, f"{refund.refund_no}: {refund.get_status_display()}.", messages.INFO)


@admin.register(PaymentEvent)
class PaymentEventAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    """Every exchange with the channels about payments and refunds, masked, for audits."""

    resource_classes = [PaymentEventResource]
    list_display = ("created_at", "channel", "reference", "operation", "kind", "outcome", "state", "amount", "message")
    list_filter = ("outcome", "kind", "operation", "channel", ("created_at", DateRangeFilter))
    list_select_related = ("channel",)
    search_fields = ("reference__exact",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("channel")


@admin.register(PaymentTransition)
class PaymentTransitionAdmin(TransitionLogAdmin):
    resource_classes = [PaymentTransitionResource]
    numbered = PaymentOrder
    number_field = "order_no"


@admin.register(RefundTransition)
class RefundTransitionAdmin(TransitionLogAdmin):
    resource_classes = [RefundTransitionResource]
    numbered = Refund
    number_field = "refund_no"
