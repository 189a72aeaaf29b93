"""The bank gateway's signature: SHA256withRSA (PKCS#1 v1.5), base64, over the canonical string
of a message. Both sides use it: the merchant signs requests with its private key, the gateway
signs answers and callbacks with its own, and each verifies the other's with the public key.

The canonical string is every top-level field except ``sign`` whose value is not empty, sorted
by key, joined ``k=v&k=v``; strings go in as they are, anything else (nested objects, numbers)
as compact JSON with sorted keys so both sides render it the same way.
"""

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_FIELD = "sign"
# How far a message's timestamp may be from our clock before it is refused (replays, skew).
MAX_CLOCK_SKEW_SECONDS = 300


def canonical_string(fields: Mapping[str, Any]) -> str:
    parts = (
        f"{key}={_canonical_value(value)}"
        for key, value in sorted(fields.items())
        if key != SIGN_FIELD and not _empty(value)
    )
    return "&".join(parts)


def sign(fields: Mapping[str, Any], private_key: rsa.RSAPrivateKey) -> str:
    signature = private_key.sign(canonical_string(fields).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def signed(fields: Mapping[str, Any], private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """``fields`` plus their ``sign``."""
    return {**fields, SIGN_FIELD: sign(fields, private_key)}


def verify(fields: Mapping[str, Any], public_key: rsa.RSAPublicKey) -> bool:
    """Whether ``fields[sign]`` is the other side's signature of the rest; False for anything
    missing or malformed, so callers have one answer to act on."""
    encoded = fields.get(SIGN_FIELD)
    if not isinstance(encoded, str) or not encoded:
        return False
    try:
        signature = base64.b64decode(encoded, validate=True)
        public_key.verify(signature, canonical_string(fields).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def stamp_new() -> dict[str, str]:
    """When, and a one-off nonce: every message carries both, so none can be replayed later."""
    return {"timestamp": str(int(time.time())), "nonce": secrets.token_hex(16)}


def timestamp_fresh(value: Any) -> bool:
    """Whether ``value`` (unix seconds, as digits or a JSON integer) is within the allowed skew."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        return False
    return abs(time.time() - seconds) <= MAX_CLOCK_SKEW_SECONDS


@lru_cache(maxsize=16)
def private_key_load(pem: str) -> rsa.RSAPrivateKey:
    """Parsed once per key: loading checks the RSA key's consistency, which costs milliseconds."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=16)
def public_key_load(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | dict | list) and not value)


def _canonical_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
