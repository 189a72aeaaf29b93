"""Helpers of the red packet tests: many users at once, and a bounded pool of grabbers."""

import queue
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django_redis import get_redis_connection

from wallet.errors import ApplicationError

T = TypeVar("T")


def redpacket_keys_delete() -> None:
    """Drop every red packet key of this run's prefix (packet ids restart with each test database)."""
    client = get_redis_connection("default")
    pattern = f"{settings.CACHES['default']['KEY_PREFIX']}:redpacket:*"
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


def many_users(count: int, prefix: str = "grabber") -> list[User]:
    User.objects.bulk_create(User(username=f"{prefix}{i}") for i in range(count))
    return list(User.objects.filter(username__startswith=prefix).order_by("pk"))


def run_pooled(items: Iterable[T], work: Callable[[T], str], *, workers: int) -> list[str]:
    """Run ``work`` on every item from ``workers`` threads, each on its own database connection
    (closed when the thread ends): as many grabbers as items, never more connections than
    ``workers``. A refusal is recorded as its error code."""
    todo: queue.Queue[T] = queue.Queue()
    for item in items:
        todo.put(item)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = work(item)
                except ApplicationError as exc:
                    outcome = exc.code
                except Exception as exc:  # the outcome records what went wrong
                    outcome = f"{type(exc).__name__}: {exc}"
                with lock:
                    outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return outcomes
