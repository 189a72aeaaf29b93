"""Clients' idempotency keys: one rule for every money-moving request, checked by the API before
anything else and by the services that keep their own replay, and published in the schema."""

import re

from wallet import errors

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Visible ASCII with spaces only inside: what an HTTP header carries unchanged everywhere.
KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"
KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}
_KEY = re.compile(KEY_PATTERN, re.ASCII)


def idempotency_key_normalise(raw: str | None) -> str:
    """The key without surrounding blanks: 1 to ``MAX_KEY_LENGTH`` visible ASCII characters."""
    key = (raw or "").strip()
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise errors.ValidationFailed(
            f"The {HEADER} header is required: 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
            fields={HEADER: "required"},
        )
    return key
