"""``/metrics`` access, the probes and the request id."""

import socket

import pytest
from django.core.cache import caches
from django.test import override_settings

from config.tests.broker import amqp_url

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_metrics_answer_loopback_callers_with_the_http_and_database_counters(client):
    client.get("/healthz")

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    body = response.content.decode()
    assert 'wallet_http_requests_total{method="GET",status="200",view="healthz"}' in body
    assert "wallet_db_queries_total" in body


@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "203.0.113.7"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},
        {"REMOTE_ADDR": "203.0.113.7", "HTTP_AUTHORIZATION": "Bearer wrong"},
    ],
    ids=["remote", "proxied", "wrong-token"],
)
@override_settings(METRICS_TOKEN="s3cret-scraper-token")
def test_metrics_are_hidden_from_everyone_else(client, headers):
    assert client.get("/metrics", **headers).status_code == 404


@override_settings(METRICS_TOKEN="s3cret-scraper-token")
def test_metrics_answer_a_remote_scraper_with_the_token(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer s3cret-scraper-token")

    assert response.status_code == 200


def test_liveness_asks_nothing_and_says_ok(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readiness_is_ok_when_database_cache_and_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "cache": True, "broker": True}}


def test_readiness_fails_with_503_naming_only_the_dependency_when_redis_is_down(client, settings):
    # Given the cache and the broker pointed at a port where nothing listens
    down = f"redis://127.0.0.1:{closed_port()}/0"
    caches_down = {"default": {**settings.CACHES["default"], "LOCATION": down}}
    with override_settings(CACHES=caches_down, CELERY_BROKER_URL=down):
        # When the orchestrator asks whether the pod is ready
        response = client.get("/readyz")
    caches["default"].close()

    # Then it is not, and the answer says which, without hosts, ports or errors
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": True, "cache": False, "broker": False}}
    assert str(down.split(":")[2].split("/")[0]) not in response.content.decode()


def test_readiness_asks_rabbitmq_when_it_is_the_broker(client, settings):
    # Given RabbitMQ as the broker
    settings.CELERY_BROKER_URL = amqp_url()

    # Then the broker is ready while it answers, and not once it is pointed where nothing listens
    assert client.get("/readyz").json()["checks"]["broker"] is True
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    assert client.get("/readyz").json() == {
        "status": "unavailable",
        "checks": {"database": True, "cache": True, "broker": False},
    }


def test_the_scrape_reads_the_queue_lengths_from_rabbitmq_and_says_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = amqp_url()
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'wallet_celery_queue_length{queue="payouts"}' in body
    assert 'wallet_dependency_up{dependency="broker"} 1.0' in body

    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert "wallet_celery_queue_length{" not in body
    assert 'wallet_dependency_up{dependency="broker"} 0.0' in body


def test_the_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="req-42.a")
    made = client.get("/healthz")
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert given["X-Request-ID"] == "req-42.a"
    assert len(made["X-Request-ID"]) == 32
    assert forged["X-Request-ID"] != "bad id\nwith newline"
