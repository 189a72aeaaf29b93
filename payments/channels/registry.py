"""Which adapter serves a channel: configured from the environment or, without credentials and
while the sandbox is installed, the sandbox's (it registers itself: payments.sandbox.apps).

Each adapter package provides ``adapter_from_environment(*, read_timeout) -> adapter | None`` (None when its
credentials are not set) and ``adapter_for_sandbox(secrets: dict, base_url: str) -> adapter``.
Adapters hold a pooled HTTP session, so each process keeps one per configuration.
"""

from collections.abc import Callable
from functools import lru_cache
from importlib import import_module

from django.conf import settings

from payments.channels.base import Adapter, ChannelUnrouted, PaymentAdapter, PayoutAdapter
from payments.channels.models import Channel, ChannelAdapter

# Given the adapter name of a channel without credentials, its sandbox adapter.
SandboxProvider = Callable[[str], Adapter]
_sandbox_provider: SandboxProvider | None = None

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
    ``ChannelUnrouted`` when it has no credentials and the sandbox is off, or when no adapter
    of that name exists any more (its orders stay readable and wait, like the others)."""
    if channel.adapter not in PACKAGES:
        raise ChannelUnrouted(f"No adapter named {channel.adapter!r} for the {channel.code} channel.")
    configured = _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT)
    if configured is not None:
        return configured
    if _sandbox_provider is None or not _sandbox_on():
        raise ChannelUnrouted(f"No credentials for the {channel.adapter} channel and the sandbox is off.")
    return _sandbox_provider(channel.adapter)


def sandbox_register(provider: SandboxProvider) -> None:
    """The sandbox app, when installed, gives the adapter of a channel without credentials."""
    global _sandbox_provider  # noqa: PLW0603 - set once, when the sandbox app is ready
    _sandbox_provider = provider


def is_reachable(channel: Channel) -> bool:
    """True when the channel has credentials or goes to the sandbox: routing skips the others."""
    if channel.adapter not in PACKAGES:
        return False
    return _sandbox_on() or _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT) is not None


def is_sandboxed(channel: Channel) -> bool:
    """True when the channel's payouts go to the sandbox, not to real money."""
    if channel.adapter not in PACKAGES:
        return False
    return _sandbox_on() and _configured(channel.adapter, settings.CHANNEL_READ_TIMEOUT) is None


def notify_url(channel: Channel) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/notify/{channel.code}/"


@lru_cache(maxsize=16)
def _configured(adapter: str, read_timeout: float) -> Adapter | None:
    return import_module(PACKAGES[ChannelAdapter(adapter)]).adapter_from_environment(read_timeout=read_timeout)


def _sandbox_on() -> bool:
    return _sandbox_provider is not None and settings.SANDBOX_ENABLED
