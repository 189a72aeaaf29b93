"""Webhook events in the admin (docs/WEBHOOKS.md, "The admin"): read-only, with every attempt
and transition on the event's page; staff with ``resend_webhookevent`` may deliver failed (or
delivered) events again."""

from django.contrib import admin, messages
from django.contrib.contenttypes.admin import GenericTabularInline
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.webhooks import services
from payments.webhooks.models import WebhookAttempt, WebhookEvent, WebhookEventTransition
from wallet.adminkit import DateRangeFilter, ReadOnlyMixin
from wallet.errors import ApplicationError


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "outcome", "http_status", "latency_ms", "answer_excerpt", "error")
    ordering = ("number",)
    extra = 0


class TransitionInline(ReadOnlyMixin, GenericTabularInline):
    model = WebhookEventTransition
    fields = ("timestamp", "transition", "source_state", "state", "by", "description")
    ordering = ("-timestamp",)
    extra = 0


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "public_id",
        "created_at",
        "merchant",
        "type",
        "status",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "merchant", "type", ("created_at", DateRangeFilter))
    list_select_related = ("merchant",)
    search_fields = ("public_id__exact",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    exclude = ("claim_token",)
    inlines = [AttemptInline, TransitionInline]
    actions = ["resend_selected"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.resend_webhookevent")

    @admin.action(description=_("Resend the selected webhooks"), permissions=["resend"])
    def resend_selected(self, request, queryset: QuerySet[WebhookEvent]):
        for event in queryset:
            try:
                services.webhook_resend(event=event, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request, gettext("%(event)s is queued for delivery again.") % {"event": event}, messages.SUCCESS
                )
