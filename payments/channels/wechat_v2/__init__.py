"""WeChat Pay v2 for legacy merchants: payments (``unifiedorder``, query, close), refunds and
enterprise payment to change, configured from the environment or the sandbox (see
``payments.channels.registry``). The client certificate is needed for transfers and refunds.

Environment (read at call time): ``WECHAT_V2_MCHID``, ``WECHAT_V2_APPID``, ``WECHAT_V2_API_KEY``
and ``WECHAT_V2_CLIENT_CERT`` (path of the merchant's API certificate, PEM) are required;
``WECHAT_V2_CLIENT_KEY`` (its private key, when not in the same PEM), ``WECHAT_V2_SIGN_TYPE``
(``MD5``, the default, or ``HMAC-SHA256``) and ``WECHAT_V2_BASE_URL`` are optional.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from payments.channels.http import ChannelHttp
from payments.channels.wechat_v2.adapter import WechatV2Adapter
from payments.channels.wechat_v2.signing import SignType

__all__ = ["WechatV2Adapter", "adapter_for_sandbox", "adapter_from_environment"]

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
REQUIRED = ("WECHAT_V2_MCHID", "WECHAT_V2_APPID", "WECHAT_V2_API_KEY", "WECHAT_V2_CLIENT_CERT")
OPTIONAL = ("WECHAT_V2_CLIENT_KEY", "WECHAT_V2_SIGN_TYPE", "WECHAT_V2_BASE_URL")


def adapter_from_environment(*, read_timeout: float) -> WechatV2Adapter | None:
    """None when no ``WECHAT_V2_*`` variable is set; an incomplete or wrong set is an error."""
    values = {name: os.environ.get(name, "") for name in (*REQUIRED, *OPTIONAL)}
    if not any(values.values()):
        return None
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        raise ImproperlyConfigured(f"WeChat v2 channel: set {', '.join(missing)}.")
    sign_type = values["WECHAT_V2_SIGN_TYPE"] or SignType.MD5
    if sign_type not in set(SignType):
        raise ImproperlyConfigured(f"WECHAT_V2_SIGN_TYPE must be one of {', '.join(SignType)}.")
    cert, key = values["WECHAT_V2_CLIENT_CERT"], values["WECHAT_V2_CLIENT_KEY"]
    unreadable = [path for path in (cert, key) if path and not Path(path).is_file()]
    if unreadable:
        raise ImproperlyConfigured(f"WeChat v2 client certificate files not found: {', '.join(unreadable)}.")
    http = ChannelHttp(base_url=values["WECHAT_V2_BASE_URL"] or DEFAULT_BASE_URL, read_timeout=read_timeout)
    # ChannelHttp has no certificate option; requests applies a session's cert to every call.
    http.session.cert = (cert, key) if key else cert
    return WechatV2Adapter(
        mch_id=values["WECHAT_V2_MCHID"],
        appid=values["WECHAT_V2_APPID"],
        api_key=values["WECHAT_V2_API_KEY"],
        sign_type=sign_type,
        http=http,
        # The client certificate is required above; over https it authenticates both ends, which is
        # what vouches for the transfer answers WeChat leaves unsigned.
        unsigned_answers_trusted=http.base_url.startswith("https://"),
    )


def adapter_for_sandbox(secrets: dict, *, base_url: str, read_timeout: float) -> WechatV2Adapter:
    """The merchant half of the sandbox's generated keys; the sandbox asks for no certificate."""
    return WechatV2Adapter(
        mch_id=secrets["mch_id"],
        appid=secrets["appid"],
        api_key=secrets["api_key"],
        sign_type=secrets["sign_type"],
        http=ChannelHttp(base_url=base_url, read_timeout=read_timeout),
    )
