"""The brokers the tests run Celery on: the test's Redis database, or the RabbitMQ of
``CELERY_TEST_AMQP_URL``.

RabbitMQ's queues are shared by every test process on the server (making a virtual host needs
its administrator), so a test on it holds a machine-wide lock for its duration and purges the
queues before and after. Without a RabbitMQ to reach, such a test is skipped, or fails when
``CI`` is set: CI runs the pipeline on both brokers.
"""

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kombu import Connection

from config.celery import app

AMQP_URL = os.environ.get("CELERY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
LOCK = Path(tempfile.gettempdir()) / "wallet-tests-amqp.lock"


def amqp_url() -> str:
    """The RabbitMQ to test on, once it answers."""
    try:
        with Connection(AMQP_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
    except Exception as error:  # noqa: BLE001 - any reason not to reach it is the same here
        reason = f"RabbitMQ at {AMQP_URL} does not answer ({type(error).__name__}); set CELERY_TEST_AMQP_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return AMQP_URL


@contextmanager
def amqp_held() -> Iterator[None]:
    """Only one test process at a time on the shared RabbitMQ queues."""
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """This process's tasks go to ``url``, set in the settings by the caller: Celery reads its
    settings as they are now, but prefers the environment's CELERY_BROKER_URL, and keeps the
    connections it made to the other broker; both are put aside on the way in and out."""
    saved = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    _pools_drop()
    try:
        yield
    finally:
        _pools_drop()
        if saved is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved


def _pools_drop() -> None:
    """As Celery does after a fork; kombu keeps each broker's producers apart by its URL."""
    app._pool = None
    app.amqp._producer_pool = None
