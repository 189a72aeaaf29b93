"""Which adapter serves a channel, configured from the environment or, without credentials,
pointed at the sandbox with the sandbox's generated merchant keys (DESIGN §6).

Each adapter package provides ``adapter_from_environment(*, read_timeout) -> adapter | None`` (None when its
credentials are not set) and ``adapter_for_sandbox(secrets: dict, base_url: str) -> adapter``.
Adapters hold a pooled HTTP session, so each process keeps one per configuration.
"""

from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.channels.base import PayoutAdapter
from payments.models import Channel, ChannelAdapter

PACKAGES = {
    ChannelAdapter.WECHAT_V3: "payments.channels.wechat_v3",
    ChannelAdapter.WECHAT_V2: "payments.channels.wechat_v2",
    ChannelAdapter.BANK: "payments.channels.bank",
}


def payout_adapter(channel: Channel) -> PayoutAdapter:
    return _adapter(channel.adapter, settings.SANDBOX_ENABLED, settings.SANDBOX_BASE_URL, settings.CHANNEL_READ_TIMEOUT)


def notify_url(channel: Channel) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/notify/{channel.code}/"


@lru_cache(maxsize=16)
def _adapter(adapter: str, sandbox_enabled: bool, sandbox_base_url: str, read_timeout: float) -> PayoutAdapter:
    package = import_module(PACKAGES[ChannelAdapter(adapter)])
    configured = package.adapter_from_environment(read_timeout=read_timeout)
    if configured is not None:
        return configured
    if not sandbox_enabled:
        raise ImproperlyConfigured(f"No credentials for the {adapter} channel and the sandbox is off.")
    from payments.channels.sandbox.keys import keys_for

    return package.adapter_for_sandbox(
        keys_for(adapter), base_url=f"{sandbox_base_url}/{adapter}", read_timeout=read_timeout
    )
