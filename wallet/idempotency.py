"""Clients' idempotency keys: one rule for every money-moving request, checked by the API before
anything else and by the services that keep their own replay, and published in the schema; and
the one replay of an object created under a key."""

import re
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _

from wallet import errors

T = TypeVar("T", bound=Model)

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
            _("The %(header)s header is required: 1 to %(max_key_length)s visible ASCII characters.")
            % {"header": HEADER, "max_key_length": MAX_KEY_LENGTH},
            fields={HEADER: "required"},
        )
    return key


def idempotent_replay(created: QuerySet[T], *, key: str, fingerprint: str, what: str, **same: Any) -> T | None:
    """The object a caller created before with this key (``created`` holds only theirs), or None.
    The key with another request (its ``request_fingerprint``, or any field of ``same``) is an
    ``IdempotencyConflict``: one key, one request."""
    previous = created.filter(idempotency_key=key).first()
    if previous is None:
        return None
    if previous.request_fingerprint != fingerprint or any(  # type: ignore[attr-defined]
        getattr(previous, name) != value for name, value in same.items()
    ):
        raise errors.IdempotencyConflict(
            _("The %(header)s %(key)s was already used for a different %(what)s.")
            % {"header": HEADER, "key": repr(key), "what": what},
            fields={HEADER: "reused"},
        )
    return previous
