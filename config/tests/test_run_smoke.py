"""`make run` end to end: embedded servers, migrations, demo data, the API, and a clean Ctrl-C.

The launcher gets its own var directory and no server URLs, so it starts its own embedded
PostgreSQL and Redis and never touches the database the rest of the suite uses.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240
STOP_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310 - http://127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until_serving(launcher: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert launcher.poll() is None, f"the launcher exited with {launcher.returncode} before serving"
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # Any HTTP answer, even 401, means the web server is up.
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"nothing answered at {url} within {START_TIMEOUT} s")


@pytest.mark.slow
def test_make_run_serves_the_wallet_api_and_stops_everything_on_ctrl_c(tmp_path_factory):
    # Given a launcher with a fresh var directory, a free port and no server URLs
    var_dir = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env |= {"WALLET_VAR_DIR": str(var_dir), "PORT": str(port)}
    log = (var_dir / "launcher.log").open("w")
    launcher = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.run"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(launcher, f"{base}/api/v1/wallet/")
        started = psutil.Process(launcher.pid).children(recursive=True)
        started.append(psutil.Process(int((var_dir / "pg" / "postmaster.pid").read_text().split()[0])))
        commands = [" ".join(process.cmdline()) for process in started]
        for program in ("gunicorn config.wsgi", "celery -A config worker", "celery -A config beat", "redis-server"):
            assert any(program in command for command in commands), f"{program} is not running"

        # When a demo client asks for its wallet
        token = json.loads((var_dir / "demo_tokens.json").read_text())["tokens"]["alice"]
        status, body = _get(f"{base}/api/v1/wallet/", token)

        # Then it gets its opening balance as JSON
        assert status == 200, body
        assert json.loads(body)["balance"] == "1000.00"

        # And Ctrl-C stops the launcher, every process it started and the embedded PostgreSQL
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(STOP_TIMEOUT) == 0
        _, alive = psutil.wait_procs(started, timeout=STOP_TIMEOUT)
        assert alive == []
        assert not (var_dir / "pg" / "postmaster.pid").exists()
    finally:
        launcher.kill()
        for process in started:
            with contextlib.suppress(psutil.Error):
                process.kill()
        launcher.wait()
        log.close()
        print((var_dir / "launcher.log").read_text()[-5000:])
