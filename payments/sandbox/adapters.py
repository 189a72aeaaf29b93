"""Our adapters pointed at the sandbox, with the merchant half of its generated keys: what the
channel registry uses for a channel without credentials while the sandbox is installed."""

import hashlib
import json
from functools import lru_cache
from importlib import import_module

from django.conf import settings

from payments.channels.base import Adapter
from payments.channels.models import ChannelAdapter
from payments.channels.registry import PACKAGES
from payments.sandbox.keys import keys_row


def sandbox_adapter(adapter: str) -> Adapter:
    secrets = keys_row(adapter).secrets
    digest = hashlib.sha256(json.dumps(secrets, sort_keys=True).encode()).hexdigest()
    return sandbox_adapters(adapter, digest, settings.SANDBOX_BASE_URL, settings.CHANNEL_READ_TIMEOUT)


@lru_cache(maxsize=16)
def sandbox_adapters(adapter: str, secrets_digest: str, base_url: str, read_timeout: float) -> Adapter:
    """Keyed by the keys' digest: keys made anew get a new adapter, and loading a private key
    (tens of milliseconds) happens once per set of keys."""
    secrets = keys_row(adapter).secrets
    package = import_module(PACKAGES[ChannelAdapter(adapter)])
    return package.adapter_for_sandbox(secrets, base_url=f"{base_url}/{adapter}", read_timeout=read_timeout)
