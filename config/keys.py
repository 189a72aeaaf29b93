"""The three secrets a deployment must set, their published development values, and fresh ones
for processes that keep no data worth protecting (tests, benches) or keep their own (`make run`).

Outside DEBUG a missing or published value stops every process at start (config.checks): the
development values are printed here, so anything they protect is readable by anyone.
"""

import base64
import secrets

# Environment variable -> the value used when it is not set (development only).
DEVELOPMENT_VALUES = {
    "DJANGO_SECRET_KEY": "insecure-development-key-change-me-0123456789abcdef",
    "FIELD_ENCRYPTION_KEYS": "dev1:ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk=",
    "BLIND_INDEX_KEY": "development-blind-index-key-not-for-production",
}


def keys_generate(*, key_id: str = "k1") -> dict[str, str]:
    """Strong random values for the three variables, in their formats."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        # "id:base64(32 bytes)", newest first (payments/encryption.py).
        "FIELD_ENCRYPTION_KEYS": f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    }


def encryption_key_values(spec: str) -> set[str]:
    """The base64 keys of a FIELD_ENCRYPTION_KEYS value, without their ids."""
    return {item.partition(":")[2].strip() for item in spec.split(",") if item.strip()}
