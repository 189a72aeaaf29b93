"""Refusals of the payment password, each with its stable code (docs/WALLET.md, "Payment password")."""

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from wallet.errors import ApplicationError


class PaymentPasswordRequired(ApplicationError):
    code = "payment_password_required"
    status = 403
    default_message: StrOrPromise = _("Money leaving your wallet needs your payment password or a payment token.")


class PaymentPasswordInvalid(ApplicationError):
    """``fields["remaining_tries"]``: wrong tries left before the password locks."""

    code = "payment_password_invalid"
    status = 403
    default_message: StrOrPromise = _("The payment password or payment token is not valid.")


class PaymentPasswordLocked(ApplicationError):
    """``fields["locked_until"]``: when tries are allowed again (ISO 8601)."""

    code = "payment_password_locked"
    status = 403
    default_message: StrOrPromise = _("Too many wrong payment passwords: try again later.")


class PaymentPasswordNotSet(ApplicationError):
    code = "payment_password_not_set"
    status = 403
    default_message: StrOrPromise = _("Set a payment password first.")
