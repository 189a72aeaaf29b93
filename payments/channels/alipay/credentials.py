"""The merchant's Alipay credentials: from the environment in production, from the sandbox's
generated keys otherwise (registry)."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from django.core.exceptions import ImproperlyConfigured

from payments.channels.alipay import signing

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
# Variable -> credential; all of them or none.
REQUIRED_VARIABLES = {
    "ALIPAY_APP_ID": "app_id",
    "ALIPAY_PRIVATE_KEY": "private_key",
    "ALIPAY_PUBLIC_KEY": "alipay_public_key",
    "ALIPAY_SELLER_ID": "seller_id",
}
_APP_ID = re.compile(r"^\d{16}$")
# The merchant's partner id (PID): 16 digits starting 2088, what notifies call seller_id.
_SELLER_ID = re.compile(r"^2088\d{12}$")


@dataclass(frozen=True)
class AlipayCredentials:
    app_id: str
    seller_id: str
    private_key: RSAPrivateKey = field(repr=False)
    alipay_public_key: RSAPublicKey = field(repr=False)


def credentials_from_environment() -> AlipayCredentials | None:
    """None when no ALIPAY_* credential is set; ImproperlyConfigured when only some are, or one
    does not parse (naming the variable, never its value)."""
    values = {name: _env(name) for name in REQUIRED_VARIABLES}
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(values):
        return None
    if missing:
        raise ImproperlyConfigured(f"Alipay credentials incomplete: set {', '.join(missing)}.")
    raw = {REQUIRED_VARIABLES[name]: value for name, value in values.items()}
    return _credentials(raw, labels={credential: name for name, credential in REQUIRED_VARIABLES.items()})


def gateway_from_environment() -> str:
    gateway = _env("ALIPAY_GATEWAY") or DEFAULT_GATEWAY
    parts = urlsplit(gateway)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ImproperlyConfigured("ALIPAY_GATEWAY must be an absolute http(s) URL of the gateway.")
    return gateway


def credentials_from_sandbox(secrets: Mapping[str, str]) -> AlipayCredentials:
    """The merchant half of the sandbox's keys (see ``sandbox.alipay.keys_generate``)."""
    raw = {
        "app_id": secrets["app_id"],
        "seller_id": secrets["seller_id"],
        "private_key": secrets["app_private_key"],
        "alipay_public_key": secrets["alipay_public_key"],
    }
    return _credentials(raw, labels={name: f"sandbox {name}" for name in raw})


def _credentials(raw: Mapping[str, str], *, labels: Mapping[str, str]) -> AlipayCredentials:
    """Parse the keys once; an error names the credential by ``labels``, never shows it."""
    if not _APP_ID.match(raw["app_id"]):
        raise ImproperlyConfigured(f"{labels['app_id']} is not an Alipay app id (16 digits).")
    if not _SELLER_ID.match(raw["seller_id"]):
        raise ImproperlyConfigured(f"{labels['seller_id']} is not an Alipay partner id (2088 and 12 digits).")
    try:
        private_key = signing.private_key_load(raw["private_key"])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # Not PEM/DER, encrypted, not RSA.
        raise ImproperlyConfigured(f"{labels['private_key']} is not an RSA private key (PEM or base64).") from exc
    try:
        alipay_public_key = signing.public_key_load(raw["alipay_public_key"])
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ImproperlyConfigured(f"{labels['alipay_public_key']} is not an RSA public key (PEM or base64).") from exc
    return AlipayCredentials(
        app_id=raw["app_id"],
        seller_id=raw["seller_id"],
        private_key=private_key,
        alipay_public_key=alipay_public_key,
    )


def _env(name: str) -> str:
    """Stripped; PEMs kept on one line with literal ``\\n`` (as .env files often do) unfolded."""
    value = os.environ.get(name, "").strip()
    if "-----BEGIN" in value and "\\n" in value and "\n" not in value:
        value = value.replace("\\n", "\n")
    return value
