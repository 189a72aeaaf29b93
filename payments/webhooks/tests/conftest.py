"""Fixtures of the webhook tests: a real receiver on 127.0.0.1, merchants, events written the
way settlements write them (the signal inside a transaction), and a clock to let retry delays pass."""

import socket
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_redis import get_redis_connection

from payments.merchants.services import MerchantSecret, merchant_create
from payments.signals import merchant_event
from payments.webhooks import services
from payments.webhooks.models import WebhookEvent
from payments.webhooks.tests.receiver import Receiver, receiver_start, receiver_stop

PAYMENT_DATA = {"order_no": "P20261207000001", "business_order_no": "SO-1001", "amount": "12.34", "currency": "CNY"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = receiver_start()
    try:
        yield running
    finally:
        receiver_stop(running)


@pytest.fixture
def private_urls_allowed(settings):
    """The receiver listens on loopback, which the URL rule refuses unless allowed (tests, demo)."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture(autouse=True)
def webhook_slots_cleared(settings):
    """The merchants' delivery slots live in Redis, across tests: each test starts with none taken."""
    redis = get_redis_connection("default")
    for key in redis.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:webhook-slots:*"):
        redis.delete(key)


@pytest.fixture
def make_merchant(make_user) -> Callable[..., MerchantSecret]:
    numbers = count(1)

    def make(notify_url: str = "", code: str | None = None) -> MerchantSecret:
        number = next(numbers)
        code = code or f"shop{number}"
        return merchant_create(code=code, name=f"Shop {number}", service_user=make_user(code), notify_url=notify_url)

    return make


@pytest.fixture
def settle() -> Callable[..., WebhookEvent]:
    """What a settlement does: send ``merchant_event`` inside its transaction; the event written."""

    def send(
        merchant_id: int, event: str = "payment.succeeded", notify_url: str = "", data: Any = None
    ) -> WebhookEvent:
        with transaction.atomic():
            merchant_event.send(
                sender=WebhookEvent,
                merchant_id=merchant_id,
                event=event,
                notify_url=notify_url,
                data=PAYMENT_DATA if data is None else data,
            )
        return WebhookEvent.objects.filter(merchant_id=merchant_id).latest("pk")

    return send


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """Wall-clock time that a test moves on (``clock.shift(30)``) instead of waiting."""
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        yield traveller


@pytest.fixture
def deliver(django_capture_on_commit_callbacks) -> Callable[[WebhookEvent], str]:
    """Run the delivery task's service as a worker would, its on-commit work included."""

    def run(event: WebhookEvent) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            return services.webhook_deliver(event_id=event.pk)

    return run


@pytest.fixture
def dns(monkeypatch) -> dict[str, str]:
    """Names the test resolves itself (``dns["shop.test"] = "127.0.0.1"``), the rest as usual:
    the resolver is the outside world."""
    names: dict[str, str] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
