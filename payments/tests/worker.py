"""A real Celery worker process for pipeline tests, on the test database and the test's broker
(its Redis database, or RabbitMQ for a test parametrized with ``celery_broker`` "amqp").

Tests that use it are transactional (their rows are committed, so another process sees them)
and run the sandbox and our notify endpoint on pytest-django's live server: the worker sends
payouts to the live server's sandbox, and the sandbox's notifies come back to it.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from django.db import connection

from config.tests.broker import amqp_held, amqp_url, publishing_to

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


@dataclass
class Worker:
    """One ``celery worker`` process tree; ``kill()`` is a SIGKILL of all of it (a dead machine)."""

    env: dict[str, str]
    log: Path
    concurrency: int
    # The queues it reads (``--queues``); every queue when empty.
    queues: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> "Worker":
        self.log = self.log.with_name(f"worker-{len(self.logs)}.log")
        self.logs.append(self.log)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "--logfile",
            str(self.log),
            "--hostname",
            f"test-{os.getpid()}-{len(self.logs)}@%h",
            *(("--queues", ",".join(self.queues)) if self.queues else ()),
        ]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, process_group=0)  # noqa: S603
        deadline = time.monotonic() + START_TIMEOUT
        while " ready." not in (self.log.read_text() if self.log.exists() else ""):
            assert self.process.poll() is None, f"the worker exited with {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"the worker was not ready in {START_TIMEOUT} s:\n{self.output()}"
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: nothing gets to clean up."""
        if self.process is None or self.process.poll() is not None:
            return
        tree = [self.process.pid, *(child.pid for child in psutil.Process(self.process.pid).children(recursive=True))]
        for pid in tree:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return "\n".join(log.read_text()[-4000:] for log in self.logs if log.exists())


def database_url() -> str:
    """The test database as a URL for the worker's settings (TCP or a unix socket directory)."""
    db = connection.settings_dict
    host, port = db["HOST"] or "", db["PORT"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    if host.startswith("/"):
        return f"postgres://{db['USER']}{password}@/{db['NAME']}?host={host}"
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def sandbox_live(live_server, settings):
    """Channels pointed at the sandbox on the live server, and notifies back to it."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return live_server


@pytest.fixture
def celery_broker(request, settings) -> Iterator[str]:
    """The broker of the test's worker and of the tasks it sends: the test's Redis database,
    or, parametrized indirectly with "amqp", RabbitMQ (config/tests/broker.py)."""
    if getattr(request, "param", "redis") == "redis":
        yield settings.CELERY_BROKER_URL
        return
    url = amqp_url()
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    with amqp_held(), publishing_to(url):
        yield url


@pytest.fixture
def celery_worker_process(celery_broker, sandbox_live, tmp_path, settings) -> Iterator[Worker]:
    """A worker on the test database and broker, with channels pointed at the live server's sandbox.

    It purges the queues at start: tasks other tests enqueued on commit are not this test's.
    The test process uses the same addresses, so both sides agree on the sandbox and notify URLs.
    """
    settings.PAYOUT_RETRY_BASE_SECONDS = 0.2
    settings.CHANNEL_READ_TIMEOUT = 2.0
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": celery_broker,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        "SANDBOX_BASE_URL": settings.SANDBOX_BASE_URL,
        "PAYOUT_RETRY_BASE_SECONDS": str(settings.PAYOUT_RETRY_BASE_SECONDS),
        "CHANNEL_READ_TIMEOUT": str(settings.CHANNEL_READ_TIMEOUT),
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS,
        "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
    }
    _purge(env)
    worker = Worker(env=env, log=tmp_path / "worker.log", concurrency=4)
    try:
        yield worker
    finally:
        worker.stop()
        _purge(env)


def wait_until(condition, *, timeout: float, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {message}")
        time.sleep(interval)


def _purge(env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
    )
