"""Django's admin autodiscovery imports this module of the payments app: each capability keeps
its admin beside its models, and importing it here registers it."""

from payments.channels import admin as channels_admin
from payments.dead_letters import admin as dead_letters_admin
from payments.merchants import admin as merchants_admin
from payments.notifications import admin as notifications_admin
from payments.orders import admin as orders_admin
from payments.webhooks import admin as webhooks_admin
from payments.withdrawals import admin as withdrawals_admin

__all__ = [
    "channels_admin",
    "dead_letters_admin",
    "merchants_admin",
    "notifications_admin",
    "orders_admin",
    "webhooks_admin",
    "withdrawals_admin",
]
