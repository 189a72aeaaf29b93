"""Which adapter serves a channel, configured from the environment or, without credentials,
pointed at the sandbox with the sandbox's generated merchant keys (DESIGN §6).

Each adapter package provides ``adapter_from_environment(*, read_timeout) -> adapter | None`` (None when its
credentials are not set) and ``adapter_for_sandbox(secrets: dict, base_url: str) -> adapter``.
Adapters hold a pooled HTTP session, so each process keeps one per configuration.
"""

from functools import lru_cache
from importlib import import_module

from django.conf import settings

from payments.channels.base import Adapter, ChannelUnrouted, PaymentAdapter, PayoutAdapter
from payments.channels.models import Channel, ChannelAdapter

PACKAGES = {
    ChannelAdapter.WECHAT_V3: "payments.channels.wechat_v3",
    ChannelAdapter.WECHAT_V2: "payments.channels.wechat_v2",
    ChannelAdapter.BANK: "payments.channels.bank",
    ChannelAdapter.ALIPAY: "payments.channels.alipay",
}


def payout_adapter(channel: Channel) -> PayoutAdapter:
    return adapter_for(channel)


def payment_adapter(channel: Channel) -> PaymentAdapter:
    return adapter_for(channel)


def adapter_for(channel: Channel) -> Adapter:
    """The channel's adapter, both halves (the notify endpoint reads every kind of notify);
    ``ChannelUnrouted`` when it has no credentials and the sandbox is off."""
    configured = _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT)
    if configured is not None:
        return configured
    if not settings.SANDBOX_ENABLED:
        raise ChannelUnrouted(f"No credentials for the {channel.adapter} channel and the sandbox is off.")
    from payments.channels.sandbox.keys import keys_row

    keys = keys_row(channel.adapter)
    return _sandbox(channel.adapter, keys.pk, settings.SANDBOX_BASE_URL, settings.CHANNEL_READ_TIMEOUT)


def is_reachable(channel: Channel) -> bool:
    """True when the channel has credentials or goes to the sandbox: routing skips the others."""
    return settings.SANDBOX_ENABLED or _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT) is not None


def is_sandboxed(channel: Channel) -> bool:
    """True when the channel's payouts go to the sandbox, not to real money."""
    return settings.SANDBOX_ENABLED and _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT) is None


def notify_url(channel: Channel) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/notify/{channel.code}/"


@lru_cache(maxsize=16)
def _configured(adapter: str, read_timeout: float) -> Adapter | None:
    return import_module(PACKAGES[ChannelAdapter(adapter)]).adapter_from_environment(read_timeout=read_timeout)


@lru_cache(maxsize=16)
def _sandbox(adapter: str, keys_id: int, base_url: str, read_timeout: float) -> Adapter:
    """Keyed by the keys row too: a database whose sandbox keys were made anew gets a new adapter."""
    from payments.channels.sandbox.models import SandboxKeys

    secrets = SandboxKeys.objects.get(pk=keys_id).secrets
    package = import_module(PACKAGES[ChannelAdapter(adapter)])
    return package.adapter_for_sandbox(secrets, base_url=f"{base_url}/{adapter}", read_timeout=read_timeout)
