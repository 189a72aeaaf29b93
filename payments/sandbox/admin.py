"""The sandbox in the admin: tell it what to play next (rules), and see what it paid and saw.

Only in development, tests and the demo (the app is there only while SANDBOX_ENABLED); its
payouts are the channel's books, so they are read-only like a real channel's would be.
"""

from django.contrib import admin
from django.db import models

from payments.sandbox.models import SandboxHit, SandboxPayout, SandboxRule
from wallet.adminkit import ReadOnlyMixin


@admin.register(SandboxRule)
class SandboxRuleAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "protocol",
        "order_no",
        "scenario",
        "failure_code",
        "delay_seconds",
        "remaining",
        "created_at",
    )
    list_filter = ("protocol", "scenario")
    search_fields = ("order_no__exact",)
    fields = ("protocol", "order_no", "scenario", "failure_code", "delay_seconds", "remaining")
    ordering = ("-id",)


@admin.register(SandboxPayout)
class SandboxPayoutAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Django 6's default; without it Django 5 warns when it builds the (read-only) form.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("created_at", "protocol", "order_no", "amount", "state", "scenario", "requests", "payee_masked")
    list_filter = ("protocol", "state", "scenario")
    search_fields = ("order_no__exact", "channel_reference__exact")
    ordering = ("-created_at", "-id")


@admin.register(SandboxHit)
class SandboxHitAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "protocol", "order_no")
    list_filter = ("protocol",)
    search_fields = ("order_no__exact",)
    ordering = ("-received_at", "-id")
    show_full_result_count = False
