"""Clients' idempotency keys (DESIGN §9): one rule for every money-moving request, checked by
the API before anything else and by the services that keep their own replay."""

from wallet import errors

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def idempotency_key_normalise(raw: str | None) -> str:
    """The key without surrounding blanks: 1 to ``MAX_KEY_LENGTH`` printable characters."""
    key = (raw or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise errors.ValidationFailed(
            f"The {HEADER} header is required (1 to {MAX_KEY_LENGTH} printable characters).",
            fields={HEADER: "required"},
        )
    return key
