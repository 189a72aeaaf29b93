"""``/metrics`` for Prometheus, and the ``/healthz`` and ``/readyz`` probes.

``/metrics`` is not public: it answers loopback callers (a sidecar or the node's agent) and
callers with ``Authorization: Bearer <METRICS_TOKEN>``; anyone else gets 404, as if it did not
exist. The probes are public and say only "ok" or which dependency is unavailable.
"""

import dataclasses
import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from config.observability.broker import BrokerDown, broker_ping
from config.observability.collector import BusinessCollector

LOOPBACK = frozenset({"127.0.0.1", "::1"})
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        return HttpResponse(status=404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process's counters, summed from their files (this process's among them).
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    levels = CollectorRegistry()
    levels.register(BusinessCollector())
    return HttpResponse(generate_latest(counters) + generate_latest(levels), content_type=CONTENT_TYPE_LATEST)


def _may_scrape(request: HttpRequest) -> bool:
    """The token, or a loopback peer that no proxy stands in front of: a reverse proxy on the
    same host connects from loopback too, but says whom it forwards for."""
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    forwarded = any(request.headers.get(name) for name in (*FORWARDING_HEADERS, settings.CLIENT_IP_HEADER) if name)
    return request.META.get("REMOTE_ADDR") in LOOPBACK and not forwarded


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: nothing else is asked, so a slow database never restarts the pod."""
    return JsonResponse({"status": "ok"})


@dataclasses.dataclass
class BrokerCheck(HealthCheck):
    """The Celery broker answers, Redis or RabbitMQ (django-health-check's own checks know one each)."""

    def run(self) -> None:
        try:
            broker_ping()
        except BrokerDown as down:
            raise ServiceUnavailable(str(down)) from down


CHECK_NAMES = ("database", "cache", "broker")


class ReadinessView(HealthCheckView):
    """Ready when the database, the cache (Redis) and the Celery broker answer. 503 otherwise,
    with the names of the failing dependencies only: no hosts, ports or error texts."""

    checks = (
        "health_check.checks.Database",
        "health_check.checks.Cache",
        BrokerCheck,
    )

    async def get(self, request, *args, **kwargs):
        await super().get(request, *args, **kwargs)
        failing = [name for name, result in zip(CHECK_NAMES, self.results, strict=True) if result.error]
        body = {
            "status": "unavailable" if failing else "ok",
            "checks": {name: name not in failing for name in CHECK_NAMES},
        }
        return JsonResponse(body, status=503 if failing else 200)
