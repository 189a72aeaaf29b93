"""Read queries over channels: routing (the cheapest enabled channel that takes an amount) and
who may change which of a channel's settings."""

from decimal import Decimal

from django.contrib.auth.models import User

from payments.channels import registry
from payments.channels.models import Channel


def payout_channel_for(*, kind: str, amount: Decimal) -> Channel | None:
    """The cheapest enabled channel that pays out to ``kind``, admits ``amount`` and can be
    reached (docs/ARCHITECTURE.md §6)."""
    candidates = [
        channel
        for channel in Channel.objects.filter(enabled=True, payout_account_kind=kind).order_by("priority", "id")
        if channel.admits(amount) and registry.is_reachable(channel)
    ]
    return min(candidates, key=lambda channel: channel.fee_for(amount), default=None)


def payment_channel_for(*, method: str, client_type: str, amount: Decimal) -> Channel | None:
    """The cheapest enabled channel that collects by ``method`` from ``client_type``, admits
    ``amount`` and can be reached (docs/ARCHITECTURE.md §6); priority, then id, breaks ties."""
    candidates = [
        channel
        for channel in Channel.objects.filter(
            enabled=True, payment_methods__contains=[method], client_types__contains=[client_type]
        ).order_by("priority", "id")
        if channel.admits(amount) and registry.is_reachable(channel)
    ]
    return min(candidates, key=lambda channel: channel.fee_for(amount), default=None)


# Operations switch a channel on and off (an outage); its fees, limits, rate and routing are
# finance supervisors' (``change_channel``), as risk limits are.
CHANNEL_SWITCHES = frozenset({"enabled"})


CHANNEL_IDENTITY = frozenset({"id", "code", "updated_at"})


def channel_changeable_fields(*, actor: User) -> frozenset[str]:
    if actor.has_perm("payments.change_channel"):
        return frozenset(field.name for field in Channel._meta.concrete_fields) - CHANNEL_IDENTITY
    if actor.has_perm("payments.switch_channel"):
        return CHANNEL_SWITCHES
    return frozenset()
