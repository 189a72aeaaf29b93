"""The sandbox in the admin: tell it what to play next (rules, bill differences included), and
see what it paid and saw.

Only in development, tests and the demo (the app is there only while SANDBOX_ENABLED); its
payouts are the channel's books, so they are read-only like a real channel's would be.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models

from payments.sandbox.bill_rules import bill_rule_refusal
from payments.sandbox.models import SandboxBillRule, SandboxHit, SandboxPayout, SandboxRule
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
    list_display = (
        "created_at",
        "protocol",
        "order_no",
        "amount",
        "fee",
        "state",
        "scenario",
        "requests",
        "payee_masked",
    )
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


class SandboxBillRuleForm(forms.ModelForm):
    """Refuses what the bill cannot play (a status or fee the format does not carry)."""

    class Meta:
        model = SandboxBillRule
        fields = ("protocol", "bill_kind", "bill_date", "difference", "order_no", "remaining")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if all(data.get(name) for name in ("protocol", "bill_kind", "difference")):
            refusal = bill_rule_refusal(
                protocol=data["protocol"], bill_kind=data["bill_kind"], difference=data["difference"]
            )
            if refusal is not None:
                raise forms.ValidationError(refusal)
        return data


@admin.register(SandboxBillRule)
class SandboxBillRuleAdmin(admin.ModelAdmin):
    form = SandboxBillRuleForm
    list_display = ("id", "protocol", "bill_kind", "bill_date", "difference", "order_no", "remaining", "created_at")
    list_filter = ("protocol", "bill_kind", "difference")
    search_fields = ("order_no__exact",)
    date_hierarchy = "bill_date"
    ordering = ("-id",)
