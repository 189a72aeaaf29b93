"""The history context of a request: pghistory's user and URL, and the request's id."""

import uuid

from pghistory import middleware


class HistoryMiddleware(middleware.HistoryMiddleware):
    """Adds ``request_id`` (the proxy's X-Request-ID, else a fresh one) so the history rows of one
    request can be found together and matched with the access log."""

    def get_context(self, request):
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        return {**super().get_context(request), "request_id": request_id[:64]}
