"""The merchant's WeChat Pay v3 credentials: from the environment in production, from the
sandbox's generated keys otherwise (registry)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from django.core.exceptions import ImproperlyConfigured

from payments.channels.wechat_v3 import signing

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
DEFAULT_TRANSFER_SCENE_ID = "1000"
# What each transfer scene must report with every bill (WeChat refuses a bill without them);
# 1000 is 现金营销, the scene wallet withdrawals are registered under.
SCENE_REPORT_INFOS = {
    "1000": (("活动名称", "钱包提现"), ("奖励说明", "钱包余额提现")),
}
# Variable -> credential; all of them or none.
REQUIRED_VARIABLES = {
    "WECHAT_V3_MCHID": "mchid",
    "WECHAT_V3_APPID": "appid",
    "WECHAT_V3_MERCHANT_SERIAL": "merchant_serial",
    "WECHAT_V3_PRIVATE_KEY": "private_key",
    "WECHAT_V3_PLATFORM_SERIAL": "platform_serial",
    "WECHAT_V3_PLATFORM_PUBLIC_KEY": "platform_public_key",
    "WECHAT_V3_API_V3_KEY": "api_v3_key",
}


@dataclass(frozen=True)
class WechatV3Credentials:
    mchid: str
    appid: str
    merchant_serial: str
    private_key: RSAPrivateKey = field(repr=False)
    platform_serial: str
    platform_public_key: RSAPublicKey = field(repr=False)
    api_v3_key: bytes = field(repr=False)
    transfer_scene_id: str = DEFAULT_TRANSFER_SCENE_ID


def credentials_from_environment() -> WechatV3Credentials | None:
    """None when no WECHAT_V3_* credential is set; ImproperlyConfigured when only some are, or
    one does not parse (naming the variable, never its value)."""
    values = {name: _env(name) for name in REQUIRED_VARIABLES}
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(values):
        return None
    if missing:
        raise ImproperlyConfigured(f"WeChat Pay v3 credentials incomplete: set {', '.join(missing)}.")
    scene = _env("WECHAT_V3_TRANSFER_SCENE_ID") or DEFAULT_TRANSFER_SCENE_ID
    if scene not in SCENE_REPORT_INFOS:
        raise ImproperlyConfigured(
            f"WECHAT_V3_TRANSFER_SCENE_ID must be one of {', '.join(SCENE_REPORT_INFOS)}: "
            "the report infos of other scenes are not known here."
        )
    raw = {REQUIRED_VARIABLES[name]: value for name, value in values.items()}
    return _credentials(raw, scene=scene, labels={credential: name for name, credential in REQUIRED_VARIABLES.items()})


def base_url_from_environment() -> str:
    return _env("WECHAT_V3_BASE_URL") or DEFAULT_BASE_URL


def credentials_from_sandbox(secrets: Mapping[str, str]) -> WechatV3Credentials:
    """The merchant half of the sandbox's keys (see ``sandbox.wechat_v3.keys_generate``)."""
    raw = {
        "mchid": secrets["mchid"],
        "appid": secrets["appid"],
        "merchant_serial": secrets["merchant_serial"],
        "private_key": secrets["merchant_private_key"],
        "platform_serial": secrets["platform_serial"],
        "platform_public_key": secrets["platform_public_key"],
        "api_v3_key": secrets["api_v3_key"],
    }
    return _credentials(raw, scene=DEFAULT_TRANSFER_SCENE_ID, labels={name: f"sandbox {name}" for name in raw})


def _credentials(raw: Mapping[str, str], *, scene: str, labels: Mapping[str, str]) -> WechatV3Credentials:
    """Parse the keys once; an error names the credential by ``labels``, never shows it."""
    try:
        private_key = signing.private_key_load(raw["private_key"])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # Not PEM, encrypted, not RSA.
        raise ImproperlyConfigured(f"{labels['private_key']} is not a PEM RSA private key.") from exc
    try:
        platform_public_key = signing.public_key_load(raw["platform_public_key"])
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ImproperlyConfigured(f"{labels['platform_public_key']} is not a PEM RSA public key.") from exc
    api_v3_key = raw["api_v3_key"].encode()
    if len(api_v3_key) != 32:
        raise ImproperlyConfigured(f"{labels['api_v3_key']} must be 32 bytes (AES-256).")
    return WechatV3Credentials(
        mchid=raw["mchid"],
        appid=raw["appid"],
        merchant_serial=raw["merchant_serial"],
        private_key=private_key,
        platform_serial=raw["platform_serial"],
        platform_public_key=platform_public_key,
        api_v3_key=api_v3_key,
        transfer_scene_id=scene,
    )


def _env(name: str) -> str:
    """Stripped; PEMs kept on one line with literal ``\\n`` (as .env files often do) unfolded."""
    value = os.environ.get(name, "").strip()
    if "-----BEGIN" in value and "\\n" in value and "\n" not in value:
        value = value.replace("\\n", "\n")
    return value
