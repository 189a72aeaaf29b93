"""Encryption at rest for sensitive fields, and blind indexes to find them (docs/WITHDRAWALS.md).

Values are sealed with AES-256-GCM under a random 96-bit nonce, so equal values never give equal
ciphertexts, and the field's name is bound as associated data, so a ciphertext copied into another
column does not decrypt. A sealed value reads ``<key id>$<base64(nonce | ciphertext | tag)>``: the
key id lets keys rotate, since every key listed in ``FIELD_ENCRYPTION_KEYS`` still decrypts and
new values use the first. A blind index is an HMAC-SHA256 of the normalised value under
``BLIND_INDEX_KEY``: equal values give equal indexes, which is what finding a card or an openid
without decrypting every row needs, and without the key nothing can be learnt from it.
"""

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12
SEPARATOR = "$"


class DecryptionError(Exception):
    """A sealed value that no configured key opens: unknown key id, tampered, or another field's."""


@dataclass(frozen=True)
class KeyRing:
    current_id: str
    keys: dict[str, AESGCM]


def seal(plaintext: str, *, field: str) -> str:
    """Encrypt ``plaintext`` for the column ``field`` with the newest key."""
    ring = key_ring()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ring.keys[ring.current_id].encrypt(nonce, plaintext.encode(), field.encode())
    return f"{ring.current_id}{SEPARATOR}{base64.b64encode(nonce + ciphertext).decode()}"


def unseal(sealed: str, *, field: str) -> str:
    """Decrypt a value sealed by ``seal`` for the same ``field``, with whichever key sealed it."""
    key_id, _, payload = sealed.partition(SEPARATOR)
    key = key_ring().keys.get(key_id)
    if key is None:
        raise DecryptionError(f"No configured key has the id {key_id!r}.")
    try:
        raw = base64.b64decode(payload, validate=True)
        return key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], field.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise DecryptionError(f"The value for {field} does not decrypt with key {key_id!r}.") from exc


def blind_index(value: str, *, field: str) -> str:
    """Hex HMAC of the value, namespaced by ``field`` so a card number and an openid never match."""
    key = settings.BLIND_INDEX_KEY.encode()
    return hmac.new(key, f"{field}\x00{value}".encode(), hashlib.sha256).hexdigest()


def key_ring() -> KeyRing:
    return _parse_keys(settings.FIELD_ENCRYPTION_KEYS)


@lru_cache(maxsize=4)
def _parse_keys(spec: str) -> KeyRing:
    """``"id:base64key,id:base64key"``, newest first; every key is 32 bytes (AES-256)."""
    keys: dict[str, AESGCM] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, _, encoded = item.partition(":")
        if not key_id or SEPARATOR in key_id or key_id in keys:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: bad or repeated key id {key_id!r}.")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} is not base64.") from exc
        if len(secret) != 32:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} must be 32 bytes, not {len(secret)}.")
        keys[key_id] = AESGCM(secret)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS names no key.")
    return KeyRing(current_id=next(iter(keys)), keys=keys)
