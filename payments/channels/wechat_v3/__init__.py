"""WeChat Pay API v3 for current merchants: payouts by merchant transfer (``transfer-bills``),
payments (JSAPI, APP, H5, Native) and refunds.

The registry builds the adapter from ``WECHAT_V3_*`` environment variables, or, without them,
from the sandbox's generated keys.
"""

from collections.abc import Mapping

from payments.channels.wechat_v3.adapter import WechatV3Adapter
from payments.channels.wechat_v3.credentials import (
    base_url_from_environment,
    credentials_from_environment,
    credentials_from_sandbox,
)

__all__ = ["WechatV3Adapter", "adapter_for_sandbox", "adapter_from_environment"]


def adapter_from_environment(*, read_timeout: float) -> WechatV3Adapter | None:
    credentials = credentials_from_environment()
    if credentials is None:
        return None
    return WechatV3Adapter(credentials, base_url=base_url_from_environment(), read_timeout=read_timeout)


def adapter_for_sandbox(secrets: Mapping[str, str], *, base_url: str, read_timeout: float) -> WechatV3Adapter:
    return WechatV3Adapter(credentials_from_sandbox(secrets), base_url=base_url, read_timeout=read_timeout)
