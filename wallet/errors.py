"""The application's error hierarchy (docs/ARCHITECTURE.md §9).

Each error carries a stable ``code`` and an HTTP status, and a message for people (gettext,
rendered in the request's language) that names only what the client knows: the order number,
"your wallet", never an internal id; the DRF exception handler renders
them as the envelope of docs/ARCHITECTURE.md §9 and admin actions show their messages.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


class ApplicationError(Exception):
    code = "error"
    status = 400
    default_message: StrOrPromise = _("The request could not be completed.")

    def __init__(self, message: StrOrPromise | None = None, *, fields: dict[str, Any] | None = None):
        self.message: StrOrPromise = message or self.default_message
        self.fields = fields or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    code = "validation_error"
    status = 400
    default_message: StrOrPromise = _("The request is not valid.")


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_message: StrOrPromise = _("Not found.")


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    default_message: StrOrPromise = _("The object is not in a state that allows this.")


class IdempotencyConflict(ApplicationError):
    code = "idempotency_conflict"
    status = 409
    default_message: StrOrPromise = _("This idempotency key was already used with different content.")


class InsufficientFunds(ApplicationError):
    code = "insufficient_funds"
    status = 422
    default_message: StrOrPromise = _("The available balance is not enough.")


class AccountFrozen(ApplicationError):
    code = "account_frozen"
    status = 422
    default_message: StrOrPromise = _("The account is frozen and cannot be debited.")


class RiskRejected(ApplicationError):
    code = "risk_rejected"
    status = 422
    default_message: StrOrPromise = _("Refused by risk control.")


class LimitExceeded(ApplicationError):
    code = "limit_exceeded"
    status = 422
    default_message: StrOrPromise = _("A limit was exceeded.")


class WindowClosed(ApplicationError):
    code = "window_closed"
    status = 422
    default_message: StrOrPromise = _("This operation is closed at this time.")


class NotAvailable(ApplicationError):
    code = "not_available"
    status = 422
    default_message: StrOrPromise = _("This operation is not available to you yet.")


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403
    default_message: StrOrPromise = _("You may not do this.")


class NoChannel(ApplicationError):
    code = "no_channel"
    status = 422
    default_message: StrOrPromise = _("No enabled channel accepts this amount.")


class ChannelUnavailable(ApplicationError):
    code = "channel_unavailable"
    status = 503
    default_message: StrOrPromise = _("The payment channel did not answer; try again later.")


class BudgetExhausted(ApplicationError):
    code = "budget_exhausted"
    status = 422
    default_message: StrOrPromise = _("The campaign's budget cannot pay this reward.")


class CampaignNotActive(ApplicationError):
    code = "campaign_not_active"
    status = 422
    default_message: StrOrPromise = _("The campaign does not accept rewards now.")


class RedPacketEmpty(ApplicationError):
    code = "red_packet_empty"
    status = 422
    default_message: StrOrPromise = _("Every share of this red packet has been grabbed.")


class RedPacketExpired(ApplicationError):
    code = "red_packet_expired"
    status = 422
    default_message: StrOrPromise = _("This red packet has expired; its remainder went back to the sender.")
