"""gunicorn as `make run` starts it (config/gunicorn.conf.py): sized from the environment, a slow
request holds one thread and not the process, and its own log lines are in TIME_ZONE."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
CONFIG = str(BASE_DIR / "config" / "gunicorn.conf.py")
START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _gunicorn(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """gunicorn serving the probe app on a free port: (base URL, its log file)."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    environ = {k: v for k, v in os.environ.items() if k != "TZ"} | env
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            [GUNICORN, "-c", CONFIG, "config.tests.wsgi_probe", "--bind", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Booting worker" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", log
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def _get(url: str, timeout: float = 20) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http://127.0.0.1
        return response.status


def test_workers_and_threads_come_from_web_concurrency_and_web_threads():
    env = os.environ | {"WEB_CONCURRENCY": "3", "WEB_THREADS": "5"}

    printed = subprocess.run(  # noqa: S603
        [GUNICORN, "-c", CONFIG, "--print-config", "config.tests.wsgi_probe"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    config = dict(re.findall(r"^(\w+)\s+= (.*)$", printed, re.MULTILINE))
    assert (config["worker_class"], config["workers"], config["threads"]) == ("gthread", "3", "5")


@pytest.mark.slow
def test_a_request_slower_than_the_worker_timeout_neither_blocks_another_nor_gets_its_worker_killed(tmp_path):
    # Given one worker process of two threads, whose heartbeat must come every 2 s
    with _gunicorn(tmp_path, WEB_CONCURRENCY="1", WEB_THREADS="2", GUNICORN_CMD_ARGS="--timeout 2") as (url, log):
        slow: list[int] = []
        stalled = threading.Thread(target=lambda: slow.append(_get(f"{url}/sleep/5")))

        # When one request takes 5 s and another arrives meanwhile
        stalled.start()
        time.sleep(0.5)
        started = time.monotonic()
        status = _get(f"{url}/", timeout=2)
        waited = time.monotonic() - started
        stalled.join(20)

        # Then the other is answered at once, and the slow one in full by the same worker
        assert status == 200 and waited < 1, f"answered {status} after {waited:.1f} s"
        assert slow == [200]
        assert "WORKER TIMEOUT" not in log.read_text()


@pytest.mark.slow
def test_gunicorn_logs_in_the_time_zone_of_the_settings(tmp_path):
    # Given TIME_ZONE, and no TZ for the process
    with _gunicorn(tmp_path, TIME_ZONE="Asia/Shanghai", WEB_CONCURRENCY="1") as (url, log):
        # When gunicorn starts and serves a request
        assert _get(f"{url}/") == 200
        time.sleep(0.5)
        lines = log.read_text().splitlines()

    # Then its own lines and its access log carry the +08:00 offset
    starting = next(line for line in lines if "Starting gunicorn" in line)
    assert "+0800]" in starting, starting
    access = next(line for line in lines if '"GET / HTTP' in line)
    assert "+0800]" in access, access
