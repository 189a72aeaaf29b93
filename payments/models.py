"""Django loads the models of the payments app from this module; each model lives with its
capability (docs/ARCHITECTURE.md). Nothing else imports from here: code imports a model from
its own package, so the capabilities' import rules hold."""

from payments.channels.models import Channel
from payments.dead_letters.models import DeadLetter
from payments.merchants.models import Merchant
from payments.notifications.models import UserNotification
from payments.orders.models import PaymentEvent, PaymentOrder, PaymentTransition, Refund, RefundTransition
from payments.webhooks.models import WebhookAttempt, WebhookEvent, WebhookEventTransition
from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalApproval, WithdrawalTransition

__all__ = [
    "Channel",
    "DeadLetter",
    "Merchant",
    "PaymentEvent",
    "PaymentOrder",
    "PaymentTransition",
    "PayoutAccount",
    "Refund",
    "RefundTransition",
    "UserNotification",
    "WebhookAttempt",
    "WebhookEvent",
    "WebhookEventTransition",
    "Withdrawal",
    "WithdrawalApproval",
    "WithdrawalTransition",
]
