"""The transfer guard registry: who decides whether a user-to-user transfer may go ahead.

``wallet`` imports nothing from the apps above it (docs/ARCHITECTURE.md §2), so it cannot call
risk control; instead risk registers a guard here when its app is ready (``RiskConfig.ready``),
the way the payment sandbox registers itself with the channel registry. Without a guard every
transfer is refused: a deployment that lost its risk app fails closed, never open.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from wallet import errors


@dataclass(frozen=True)
class TransferAttempt:
    """What the guard decides on, gathered under the sender's transfer lock.

    ``new_recipient`` is True when the sender never had a transfer posted to this recipient.
    """

    sender_id: int
    sender_active: bool
    recipient_id: int
    recipient_active: bool
    amount: Decimal
    currency: str
    new_recipient: bool
    via_receive_code: bool
    now: datetime


class Outcome(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class Verdict:
    """The guard's decision. A rejection carries the error to raise (its code is stable, its
    ``fields`` name the deciding rule); ``reference`` is where the guard logged the decision."""

    outcome: Outcome
    reference: str
    refusal: errors.ApplicationError | None = None


class TransferGuard(Protocol):
    def evaluate(self, attempt: TransferAttempt) -> Verdict:
        """Decide on the attempt and log the decision; runs in the transfer's transaction, and a
        rejection's log is committed on its own by the caller."""
        ...

    def approval_refusal(self, *, sender_id: int, recipient_id: int) -> errors.ApplicationError | None:
        """Why a held transfer may no longer be approved (a party blocked since), or None."""
        ...


_guard: TransferGuard | None = None


def guard_register(guard: TransferGuard) -> None:
    """Install the guard (risk does, when its app is ready); the last one registered decides."""
    global _guard  # noqa: PLW0603 - set once, when the risk app is ready
    _guard = guard


def guard_current() -> TransferGuard:
    """The registered guard, or 422 ``not_available``: transfers fail closed."""
    if _guard is None:
        raise errors.NotAvailable(_("Transfers are not available: no risk control is installed."))
    return _guard


@contextmanager
def guard_replaced(guard: TransferGuard | None) -> Iterator[None]:
    """Another guard, or none, for the duration of the block (tests)."""
    global _guard  # noqa: PLW0603 - restored on exit
    previous, _guard = _guard, guard
    try:
        yield
    finally:
        _guard = previous
