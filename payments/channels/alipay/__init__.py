"""Alipay open platform (RSA2): page, wap and app payments, query, close, refunds, notifies.

The registry builds the adapter from ``ALIPAY_*`` environment variables, or, without them,
from the sandbox's generated keys.
"""

from collections.abc import Mapping

from payments.channels.alipay.adapter import AlipayAdapter
from payments.channels.alipay.credentials import (
    credentials_from_environment,
    credentials_from_sandbox,
    gateway_from_environment,
)

__all__ = ["AlipayAdapter", "adapter_for_sandbox", "adapter_from_environment"]

SANDBOX_GATEWAY_PATH = "/gateway.do"


def adapter_from_environment(*, read_timeout: float) -> AlipayAdapter | None:
    credentials = credentials_from_environment()
    if credentials is None:
        return None
    return AlipayAdapter(credentials, gateway=gateway_from_environment(), read_timeout=read_timeout)


def adapter_for_sandbox(secrets: Mapping[str, str], *, base_url: str, read_timeout: float) -> AlipayAdapter:
    gateway = f"{base_url.rstrip('/')}{SANDBOX_GATEWAY_PATH}"
    return AlipayAdapter(credentials_from_sandbox(secrets), gateway=gateway, read_timeout=read_timeout)
