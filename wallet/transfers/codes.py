"""Receive-code tokens: what a payer's app reads from the QR and sends back to pay.

A token is ``django.core.signing`` of the code's id and expiry, salted for this use: HMAC-SHA256
with ``SECRET_KEY`` (and ``SECRET_KEY_FALLBACKS`` while a key rotates), so it cannot be guessed
or altered, and a stale one is refused without a database read. Whether the code is still good
(revoked, already paid) is the row's business (wallet.transfers.services).
"""

from datetime import UTC, datetime, timedelta

from django.core import signing
from django.utils.translation import gettext_lazy as _

from wallet import errors
from wallet.models import ReceiveCode

SALT = "wallet.receive_code.v1"
# How long a code lives unless its owner says otherwise, and the bounds they may choose in.
DEFAULT_EXPIRY_FIXED = timedelta(minutes=15)
DEFAULT_EXPIRY_OPEN = timedelta(hours=24)
MIN_EXPIRY = timedelta(minutes=1)
MAX_EXPIRY = timedelta(days=7)


def token_for(code: ReceiveCode) -> str:
    """The code's token; the same code always gives the same token."""
    return signing.dumps({"id": code.pk, "exp": int(code.expires_at.timestamp())}, salt=SALT)


def token_read(token: str, *, now: datetime) -> int:
    """The id of the code the token names; a 400 on ``receive_code`` when it was not made here
    (``invalid``) or has expired (``expired``)."""
    try:
        payload = signing.loads(token, salt=SALT)
        code_id, expires = int(payload["id"]), datetime.fromtimestamp(int(payload["exp"]), tz=UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise errors.ValidationFailed(_("This receive code is not valid."), fields={"receive_code": "invalid"}) from exc
    if now >= expires:
        raise errors.ValidationFailed(_("This receive code has expired."), fields={"receive_code": "expired"})
    return code_id
