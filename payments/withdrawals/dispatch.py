"""Queueing approved withdrawals for dispatch, by task name.

While a dispatch task waits in the queue, a marker in Redis says so, and the approved sweep
leaves the order alone: behind a long, rate-limited queue every order is "approved for over a
minute". Past ``QUEUED_MARKER_SECONDS`` the marker expires, so a task lost with its broker is
sent again after all.
"""

from django.core.cache import cache

from wallet.task_queue import task_enqueue

DISPATCH_TASK = "payments.withdrawal_dispatch"
QUEUED_MARKER_SECONDS = 15 * 60


def dispatch_enqueue(withdrawal_id: int) -> None:
    dispatch_mark_queued(withdrawal_id)
    task_enqueue(DISPATCH_TASK, withdrawal_id)


def dispatch_mark_queued(withdrawal_id: int) -> None:
    cache.set(_queued_marker(withdrawal_id), 1, timeout=QUEUED_MARKER_SECONDS)


def dispatch_started(withdrawal_id: int) -> None:
    cache.delete(_queued_marker(withdrawal_id))


def dispatch_not_queued(withdrawal_ids: list[int]) -> list[int]:
    """Those of ``withdrawal_ids`` whose dispatch task is not waiting in the queue."""
    queued = cache.get_many([_queued_marker(withdrawal_id) for withdrawal_id in withdrawal_ids])
    return [withdrawal_id for withdrawal_id in withdrawal_ids if _queued_marker(withdrawal_id) not in queued]


def _queued_marker(withdrawal_id: int) -> str:
    return f"payments:dispatch-queued:{withdrawal_id}"
