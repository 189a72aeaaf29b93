"""One moving-window rate limiter on Redis for every process: API throttles and the channels'
payout rates share it, so a limit holds across all web and worker processes."""

from functools import lru_cache

from django.conf import settings
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter


@lru_cache(maxsize=1)
def rate_limiter() -> MovingWindowRateLimiter:
    """One limiter (and Redis connection pool) per process, on the cache's Redis server."""
    url = settings.REDIS_URL
    if url.startswith("unix://"):
        url = "redis+unix://" + url.removeprefix("unix://")
    return MovingWindowRateLimiter(RedisStorage(url, key_prefix="throttle"))
