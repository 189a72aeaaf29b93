"""Operational counters in Redis, shared by every process: alerts and the dashboard read them.

Each counter is one key under ``metrics:``; ``increment`` is atomic (INCRBY).
"""

from django.core.cache import cache

PREFIX = "metrics:"


def increment(name: str, amount: int = 1) -> int:
    key = f"{PREFIX}{name}"
    cache.add(key, 0, timeout=None)
    return cache.incr(key, amount)


def value(name: str) -> int:
    return cache.get(f"{PREFIX}{name}", 0)


def gauge(name: str, amount: int) -> None:
    """Set a level (how many are stuck now) rather than count events."""
    cache.set(f"{PREFIX}{name}", amount, timeout=None)
