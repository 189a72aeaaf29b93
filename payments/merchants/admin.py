"""Merchants in the admin (docs/MERCHANTS.md, "Admin"): finance supervisors create them (with a
service user) and rotate their webhook secrets; everyone else with payments access views them.

A secret is shown once, in the success message of the request that made it, and never again:
only its sealed form is stored. Creating and rotating go through the services.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments import public_urls
from payments.merchants import selectors, services
from payments.merchants.models import Merchant
from wallet.errors import ApplicationError
from wallet.selectors import account_balance


class MerchantCreateForm(forms.ModelForm):
    service_user = forms.ModelChoiceField(
        queryset=User.objects.filter(merchant__isnull=True, is_staff=False).order_by("username"),
        help_text=_("The account its server authenticates as (give it an API token); no staff account."),
    )
    notify_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        validators=[public_urls.notify_url_validate],
        help_text=_("Where its webhooks go (http or https, a public address)."),
    )

    class Meta:
        model = Merchant
        fields = ("code", "name", "service_user", "notify_url")


class MerchantChangeForm(forms.ModelForm):
    notify_url = MerchantCreateForm.base_fields["notify_url"]

    class Meta:
        model = Merchant
        fields = ("name", "notify_url", "is_active")


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    # Django 6's default; without it Django 5 warns when it builds the form.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("code", "name", "service_user", "account_link", "balance", "is_active", "secret_rotated_at")
    list_filter = ("is_active",)
    list_select_related = ("service_user", "account")
    search_fields = ("code__exact", "name")
    ordering = ("code",)
    readonly_fields = (
        "code",
        "service_user",
        "account_link",
        "balance",
        "payments_link",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "created_at",
    )
    fields = readonly_fields[:5] + ("name", "notify_url", "is_active") + readonly_fields[5:]
    actions = ["rotate_secret"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MerchantCreateForm if obj is None else MerchantChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return MerchantCreateForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj: Merchant, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        made = services.merchant_create(
            code=obj.code, name=obj.name, service_user=obj.service_user, notify_url=obj.notify_url
        )
        obj.pk, obj.account_id = made.merchant.pk, made.merchant.account_id
        obj._state.adding = False
        self.message_user(request, _secret_message(made), messages.SUCCESS)

    @admin.display(description=_("Account"))
    def account_link(self, merchant: Merchant) -> str:
        url = reverse("admin:wallet_account_change", args=[merchant.account_id])
        return format_html('<a href="{}">{}</a>', url, merchant.account.code)

    @admin.display(description=_("Balance"))
    def balance(self, merchant: Merchant) -> str:
        return f"{account_balance(account=merchant.account)} {merchant.account.currency}"

    @admin.display(description=_("Payments"))
    def payments_link(self, merchant: Merchant) -> str:
        url = reverse("admin:payments_paymentorder_changelist") + f"?merchant_account__id__exact={merchant.account_id}"
        count = selectors.merchant_payments(merchant=merchant).count()
        label = gettext("%(count)d order payments") % {"count": count}
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.action(description=_("Rotate the webhook secret of the selected merchants"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        for merchant in queryset:
            try:
                made = services.merchant_secret_rotate(merchant=merchant)
            except ApplicationError as error:
                self.message_user(request, f"{merchant.code}: {error.message}", messages.ERROR)
                continue
            self.message_user(request, _secret_message(made), messages.SUCCESS)


def _secret_message(made: services.MerchantSecret) -> str:
    return gettext(
        "%(merchant)s: the new webhook secret, shown this once (copy it now): %(secret)s. Its account is %(account)s."
    ) % {"merchant": made.merchant.code, "secret": made.secret, "account": made.merchant.account.code}
