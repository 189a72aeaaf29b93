"""The request middleware: a request id for every request (the caller's ``X-Request-ID`` when
it sent a sane one, else a new one, echoed in the response), the log context, and the HTTP
metrics by route, method and status.

Routes are labelled by their pattern (``api/v1/withdrawals/<str:order_no>/``), never the path,
so an order number does not become a time series; unmatched paths share one label.
"""

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

from config.observability import context

HEADER = "X-Request-ID"
# A caller's id is kept only when it cannot forge log lines or blow up their size.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "wallet_http_requests", "HTTP requests answered, by route, method and status.", ["view", "method", "status"]
)
LATENCY = Histogram(
    "wallet_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf")),
)


class ObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        context.context_clear()
        request_id = request.headers.get(HEADER, "")
        if not ACCEPTED_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        context.request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        match = request.resolver_match
        view = match.route if match else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        LATENCY.labels(view=view, method=method).observe(time.perf_counter() - started)
        context.context_clear()
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        """The user of a session and the order the URL names are known once the URL resolved;
        a token-authenticated API user is known to DRF only, inside the view."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context.user_id.set(str(user.pk))
        if number := view_kwargs.get("order_no") or view_kwargs.get("refund_no"):
            context.order_no.set(str(number))
