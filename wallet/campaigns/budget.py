"""The budget counter of each campaign: what its accepted rewards add up to, in Redis.

Accepting a reward must not lock a row per reward (that would serialise a campaign), so the
sum of accepted rewards lives in one Redis integer per campaign, in cents, and a reservation is
one Lua script: refuse if the sum plus the amount would pass the budget, else add it. Redis runs
scripts one at a time, so two accepts can never both take the last yuan.

The database is the truth and the counter is rebuilt from it when missing (Redis restarted,
key evicted). A rebuild and the accepts in flight are kept apart by a PostgreSQL advisory lock
(wallet.campaigns.locks): each accept holds it shared from before it inserts its reward until
its commit or rollback, and reserves as its last step before commit; a rebuild holds it
exclusive while it sums the rewards and sets the counter. So a rebuild counts every accept that
committed and none that is half done, and no accept is lost from the count.

Should an accept's commit fail after its reservation (a killed process, a lost connection), the
counter stays too high: that can only refuse rewards, never overspend, and the hourly recount
fixes it.
"""

from decimal import Decimal
from functools import lru_cache

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.commands.core import Script

_RESERVE = """
local reserved = redis.call('GET', KEYS[1])
if not reserved then return -1 end
if tonumber(reserved) + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
return 1
"""


class CounterMissing(Exception):
    """The campaign has no counter in Redis: rebuild it from the database, then retry."""


def reservation_take(*, campaign_id: int, amount: Decimal, budget: Decimal) -> bool:
    """Add ``amount`` to the campaign's accepted sum if it stays within ``budget``; whether it did."""
    outcome = _script(_RESERVE)(keys=[_key(campaign_id)], args=[_cents(amount), _cents(budget)])
    if outcome == -1:
        raise CounterMissing(campaign_id)
    return outcome == 1


def counter_set(*, campaign_id: int, total: Decimal) -> None:
    """Set the counter to the database's sum (called under the exclusive lock only)."""
    get_redis_connection("default").set(_key(campaign_id), _cents(total))


def counter_delete(*, campaign_id: int) -> None:
    """Forget the counter (as a Redis restart would): the next accept rebuilds it."""
    get_redis_connection("default").delete(_key(campaign_id))


def counter_read(*, campaign_id: int) -> Decimal | None:
    """The accepted sum the counter holds, or None when it is missing (for the admin)."""
    value = get_redis_connection("default").get(_key(campaign_id))
    return None if value is None else Decimal(int(value)).scaleb(-2)


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def _key(campaign_id: int) -> str:
    return cache.make_key(f"campaigns:accepted:{campaign_id}")


@lru_cache(maxsize=2)
def _script(source: str) -> Script:
    return get_redis_connection("default").register_script(source)
