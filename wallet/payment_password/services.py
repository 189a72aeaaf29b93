"""Setting and checking payment passwords, and the one-time payment tokens they buy
(docs/WALLET.md, "Payment password").

A wrong try is counted under a row lock in its own transaction, which commits before the
refusal is raised: parallel wrong tries are counted one by one, and a lock cannot be skipped by
racing it. A token is stored in Redis by its SHA-256 only, and taken with GETDEL, so of two
requests carrying the same token exactly one gets it.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_redis import get_redis_connection

from wallet import errors
from wallet.payment_password.errors import (
    PaymentPasswordInvalid,
    PaymentPasswordLocked,
    PaymentPasswordNotSet,
)
from wallet.payment_password.models import PaymentPassword

TOKEN_KEY_PREFIX = "payment-token:"  # noqa: S105 - a Redis key prefix


@dataclass(frozen=True)
class PaymentToken:
    token: str
    expires_at: datetime


def payment_password_set(
    *, user: User, new_password: str, account_password: str = "", old_payment_password: str = ""
) -> PaymentPassword:
    """Set or change the payment password, proved by the account password or, once one is set,
    by the old payment password (a wrong old one counts as a wrong try)."""
    if not re.fullmatch(settings.PAYMENT_PASSWORD_PATTERN, new_password):
        raise errors.ValidationFailed(
            _("The new payment password does not have the required form (6 digits)."),
            fields={"new_password": "invalid_format"},
        )
    if old_payment_password:
        payment_password_verify(user=user, password=old_payment_password)
    elif not user.check_password(account_password):
        raise errors.ValidationFailed(_("The account password is not correct."), fields={"account_password": "invalid"})
    with transaction.atomic(durable=True):
        record, _created = PaymentPassword.objects.update_or_create(
            user=user, defaults={"password": make_password(new_password), "failed_attempts": 0, "locked_until": None}
        )
    return record


def payment_password_verify(*, user: User, password: str) -> None:
    """Return if ``password`` is the user's payment password; otherwise count the try and refuse."""
    now = timezone.now()
    with transaction.atomic():
        record = PaymentPassword.objects.select_for_update().filter(user=user).first()
        if record is None:
            raise PaymentPasswordNotSet()
        if record.locked_until is not None and record.locked_until > now:
            raise PaymentPasswordLocked(fields={"locked_until": record.locked_until.isoformat()})
        lock_ran_out = record.locked_until is not None
        if lock_ran_out:  # a fresh set of tries
            record.failed_attempts, record.locked_until = 0, None
        if check_password(password, record.password):
            if record.failed_attempts or lock_ran_out:
                record.failed_attempts = 0
                record.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
            return
        record.failed_attempts += 1
        remaining = max(settings.PAYMENT_PASSWORD_MAX_TRIES - record.failed_attempts, 0)
        if remaining == 0:
            record.locked_until = now + timedelta(seconds=settings.PAYMENT_PASSWORD_LOCK_SECONDS)
        record.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
    # Raised after the block, so the counted try commits.
    if record.locked_until is not None:
        raise PaymentPasswordLocked(fields={"locked_until": record.locked_until.isoformat()})
    raise PaymentPasswordInvalid(fields={"remaining_tries": str(remaining)})


def payment_token_issue(*, user: User, password: str) -> PaymentToken:
    """A single-use token standing for the payment password, for one money-leaving request."""
    payment_password_verify(user=user, password=password)
    token = secrets.token_urlsafe(32)
    ttl = settings.PAYMENT_TOKEN_TTL_SECONDS
    get_redis_connection("default").set(_token_key(token), str(user.pk), ex=ttl)
    return PaymentToken(token=token, expires_at=timezone.now() + timedelta(seconds=ttl))


def payment_token_consume(*, user: User, token: str) -> None:
    """Take the token, once: a token replayed, expired, or issued to someone else is refused."""
    owner = get_redis_connection("default").getdel(_token_key(token))
    if owner is None or owner.decode() != str(user.pk):
        raise PaymentPasswordInvalid(_("The payment token is not valid, has expired or was used already."))


def _token_key(token: str) -> str:
    return TOKEN_KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def payment_password_ensure(*, user: User, password: str) -> None:
    """Give the user ``password`` unless they have one already: for demo users, whom nobody can
    prove to be (they have no account password), and whose own choice must survive a re-run."""
    PaymentPassword.objects.get_or_create(user=user, defaults={"password": make_password(password)})
