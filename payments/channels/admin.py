"""Channel settings in the admin: finance supervisors change them, operations switch a channel
on and off; every change goes through payments.channels.services (docs/WITHDRAWALS.md, "Who
may change what")."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from payments.channels import selectors, services
from payments.channels.models import Channel
from wallet.errors import ApplicationError


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "enabled",
        "adapter",
        "rate_limit_per_second",
        "payout_account_kind",
        "fee_rate",
        "fee_min",
        "fee_max",
        "min_amount",
        "max_amount",
        "priority",
    )
    list_editable = ("enabled",)
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("updated_at",)
        # Withdrawals and ledger accounts refer to channels by code.
        changeable = selectors.channel_changeable_fields(actor=request.user)
        return tuple(
            field.name
            for field in Channel._meta.concrete_fields
            if not field.primary_key and field.name not in changeable
        )

    def has_change_permission(self, request, obj=None):
        return bool(selectors.channel_changeable_fields(actor=request.user))

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        try:
            services.channel_change(
                channel=obj, actor=request.user, changes={name: form.cleaned_data[name] for name in form.changed_data}
            )
        except ApplicationError as error:
            raise PermissionDenied(error.message) from error

    def has_delete_permission(self, request, obj=None):
        return False
