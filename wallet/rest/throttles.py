"""Per-user request throttles kept in Redis, shared by every web process.

DRF's own throttles read the history from the cache, append and write it back: two requests
at once both see the old history and both pass. This one asks Redis for a moving-window hit in
one atomic script (the ``limits`` library), so a user gets exactly the rate and no more.
"""

import time

from django.conf import settings
from limits import parse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from wallet.ratelimit import rate_limiter


class UserRateThrottle(BaseThrottle):
    """At most ``settings.THROTTLE_RATES[scope]`` requests per user in any moving window."""

    scope = ""

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return True
        item = parse(settings.THROTTLE_RATES[self.scope])
        limiter = rate_limiter()
        identity = (settings.CACHES["default"]["KEY_PREFIX"], self.scope, str(request.user.pk))
        if limiter.hit(item, *identity):
            return True
        stats = limiter.get_window_stats(item, *identity)
        self.wait_seconds = max(stats.reset_time - time.time(), 1.0)
        return False

    def wait(self) -> float | None:
        return self.wait_seconds
