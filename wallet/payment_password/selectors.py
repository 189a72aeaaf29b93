"""Reads of payment passwords."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from wallet.payment_password.models import PaymentPassword


@dataclass(frozen=True)
class PaymentPasswordState:
    is_set: bool
    locked_until: datetime | None

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None


def payment_password_state(*, user: User) -> PaymentPasswordState:
    """Whether the user has one, and until when it is locked (None when it is not, or no longer)."""
    record = PaymentPassword.objects.filter(user=user).first()
    if record is None:
        return PaymentPasswordState(is_set=False, locked_until=None)
    locked = record.locked_until if record.locked_until and record.locked_until > timezone.now() else None
    return PaymentPasswordState(is_set=True, locked_until=locked)
