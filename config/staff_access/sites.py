"""The admin site: a password, then an authenticator code for whoever must or chose to give one.

A user whose role requires a second factor is let in only with a session verified by one of
their devices (django-otp's ``otp_device_id``); without it the admin treats them as signed out
and shows the sign-in page again. Devices are enrolled by a superuser (docs/OPERATIONS.md).
"""

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.staff_access.policy import two_factor_required


class StaffAuthenticationForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "none"}),
        help_text=_("The six digits your authenticator app shows, or one of your backup codes."),
    )

    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": _("Enter the code your authenticator app shows, or one of your backup codes."),
        "invalid_token": _("That authenticator code is not valid. Enter the current one."),
        "device_required": _("That authenticator code is not valid. Enter the current one."),
    }
    not_enrolled_message = _(
        "Your role signs in with an authenticator code, and no authenticator is set up for you yet: "
        "ask a superuser to enrol one."
    )

    def clean(self) -> dict:
        cleaned_data = super().clean()
        user = self.get_user()
        if user is not None and two_factor_required(user) and not user_has_device(user):
            raise forms.ValidationError(self.not_enrolled_message, code="otp_not_enrolled")
        if user is not None and user_has_device(user):
            self.clean_otp(user)
        return cleaned_data

    def _chosen_device(self, user) -> Device | None:
        """The one device the code can belong to, told by its shape: as many digits as the TOTP
        device expects, else a backup code. Trying each device in turn would count a failure
        against every device the code is not from, throttling a backup code never used."""
        token = (self.cleaned_data.get("otp_token") or "").strip()
        devices = list(devices_for_user(user, confirmed=True))
        totp = [device for device in devices if isinstance(device, TOTPDevice)]
        static = [device for device in devices if isinstance(device, StaticDevice)]
        for device in totp:
            if token.isdigit() and len(token) == device.digits:
                return device
        return static[0] if static else None


class StaffAdminSite(AdminSite):
    login_form = StaffAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        return request.user.is_verified() or not two_factor_required(request.user)  # type: ignore[union-attr]
