"""Queueing approved withdrawals for dispatch, by task name.

While a dispatch task waits in the queue, a marker in Redis says so (with when it was queued),
and the approved sweep leaves the order alone: behind a long, rate-limited queue every order is
"approved for over a minute". Past ``QUEUED_GRACE`` the marker no longer counts, so a task lost
with its broker or its worker is sent again after all. The sweep judges the marker's age by the
clock it is given, like its other graces (``payouts.approved_stuck_ids``).
"""

from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from wallet.task_queue import task_enqueue

DISPATCH_TASK = "payments.withdrawal_dispatch"
QUEUED_GRACE = timedelta(minutes=15)


def dispatch_enqueue(withdrawal_id: int) -> None:
    """Mark, then queue; a task that could not be queued leaves no marker behind, so the next
    sweep sends it rather than waiting out the grace for a task that never existed."""
    dispatch_mark_queued(withdrawal_id)
    try:
        task_enqueue(DISPATCH_TASK, withdrawal_id)
    except Exception:
        cache.delete(_queued_marker(withdrawal_id))
        raise


def dispatch_mark_queued(withdrawal_id: int) -> None:
    cache.set(_queued_marker(withdrawal_id), timezone.now().timestamp(), timeout=QUEUED_GRACE.total_seconds())


def dispatch_started(withdrawal_id: int) -> None:
    cache.delete(_queued_marker(withdrawal_id))


def dispatch_not_queued(withdrawal_ids: list[int], *, now: datetime | None = None) -> list[int]:
    """Those of ``withdrawal_ids`` whose dispatch task is not waiting in the queue: no marker,
    or one set more than ``QUEUED_GRACE`` before ``now``."""
    since = ((now or timezone.now()) - QUEUED_GRACE).timestamp()
    markers = cache.get_many([_queued_marker(withdrawal_id) for withdrawal_id in withdrawal_ids])
    return [
        withdrawal_id
        for withdrawal_id in withdrawal_ids
        if not _queued_since(markers.get(_queued_marker(withdrawal_id)), since)
    ]


def _queued_since(marker: object, since: float) -> bool:
    """A marker set after ``since``; one of the older kind (no time in it) counts as expired."""
    return isinstance(marker, float) and marker > since


def _queued_marker(withdrawal_id: int) -> str:
    return f"payments:dispatch-queued:{withdrawal_id}"
