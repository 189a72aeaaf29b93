"""How many deliveries to one merchant may be under way at once, across every worker
(docs/WEBHOOKS.md, "Isolation"): a counting semaphore in Redis.

A slot is a member of a sorted set scored by when its lease runs out, so a worker killed while
holding one frees it at the lease's end; taking one is a single Lua script (drop the expired,
count, add), so two workers never both take the last slot. Redis's own clock scores the
leases: the workers' clocks do not have to agree.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django_redis import get_redis_connection

TAKE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


def _key(merchant_id: int) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:webhook-slots:{merchant_id}"


def slot_take(*, merchant_id: int, cap: int, lease_seconds: float) -> str | None:
    """A slot's token, or None when ``cap`` deliveries to the merchant are under way."""
    token = uuid.uuid4().hex
    redis = get_redis_connection("default")
    taken = redis.eval(TAKE, 1, _key(merchant_id), cap, round(lease_seconds * 1000), token)
    return token if taken else None


def slot_give_back(*, merchant_id: int, token: str) -> None:
    get_redis_connection("default").zrem(_key(merchant_id), token)


def slots_in_use(*, merchant_id: int) -> int:
    redis = get_redis_connection("default")
    return int(redis.zcard(_key(merchant_id)))


@contextmanager
def merchant_slot(*, merchant_id: int, cap: int, lease_seconds: float) -> Iterator[bool]:
    """Hold one of the merchant's slots for the block; yields False (holding none) when all are taken."""
    token = slot_take(merchant_id=merchant_id, cap=cap, lease_seconds=lease_seconds)
    try:
        yield token is not None
    finally:
        if token is not None:
            slot_give_back(merchant_id=merchant_id, token=token)
