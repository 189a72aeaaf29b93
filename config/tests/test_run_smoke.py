"""`make run` end to end: embedded servers, migrations, demo data, the API, a management command
from a second shell, and a clean Ctrl-C.

Each launcher gets its own var directory and no server URLs or secrets, so it starts its own
embedded PostgreSQL and Redis and never touches the database the rest of the suite uses.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240
STOP_TIMEOUT = 60
# What a fresh shell does not have: the launcher must find or make each of these itself.
LAUNCHER_MADE = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "BLIND_INDEX_KEY",
    "SANDBOX_ENABLED",
    "PUBLIC_BASE_URL",
    "DJANGO_STATIC_ROOT",
)


@dataclass
class Launcher:
    process: subprocess.Popen
    var_dir: Path
    base: str
    log: Path
    started: list[psutil.Process]  # its children and the embedded PostgreSQL

    def output(self) -> str:
        return self.log.read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_shell(**env: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in LAUNCHER_MADE} | env


def _get(url: str, token: str, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310 - http://127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
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


def _wait_for_the_demo_payouts(launcher: Launcher) -> None:
    """The demo's approved withdrawals go out as the worker starts; until they are final they
    could take the sandbox rules a drill sets for the next bank requests."""
    tokens = json.loads((launcher.var_dir / "demo_tokens.json").read_text())["tokens"]
    deadline = time.monotonic() + START_TIMEOUT
    for client in ("alice", "bob"):
        while True:
            status, body = _get(f"{launcher.base}/api/v1/withdrawals/", tokens[client])
            assert status == 200, body
            if b'"approved"' not in body and b'"processing"' not in body:
                break
            assert time.monotonic() < deadline, f"the demo withdrawals of {client} are not final: {body!r}"
            time.sleep(0.5)


@contextlib.contextmanager
def _launched(tmp_path_factory, **env: str) -> Iterator[Launcher]:
    """`python -m config.run` from a fresh shell with ``env``, serving; killed with all it started
    at the end, whatever the test did."""
    var_dir = tmp_path_factory.mktemp("var")
    port = _free_port()
    log_path = var_dir / "launcher.log"
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.run"],
        cwd=BASE_DIR,
        env=_fresh_shell(WALLET_VAR_DIR=str(var_dir), PORT=str(port), **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(process, f"{base}/api/v1/wallet/")
        started += psutil.Process(process.pid).children(recursive=True)
        started.append(psutil.Process(int((var_dir / "pg" / "postmaster.pid").read_text().split()[0])))
        yield Launcher(process=process, var_dir=var_dir, base=base, log=log_path, started=started)
    finally:
        process.kill()
        for child in started:
            with contextlib.suppress(psutil.Error):
                child.kill()
        process.wait()
        log.close()
        print(log_path.read_text()[-5000:])


@pytest.mark.slow
def test_make_run_serves_the_wallet_api_and_stops_everything_on_ctrl_c(tmp_path_factory):
    # Given a launcher with a fresh var directory, a free port and no server URLs or secrets
    with _launched(tmp_path_factory, TIME_ZONE="Asia/Shanghai") as launcher:
        commands = [" ".join(process.cmdline()) for process in launcher.started]
        for program in ("gunicorn", "celery -A config worker", "celery -A config beat", "redis-server"):
            assert any(program in command for command in commands), f"{program} is not running"

        # When a demo client asks for its wallet
        token = json.loads((launcher.var_dir / "demo_tokens.json").read_text())["tokens"]["alice"]
        status, body = _get(f"{launcher.base}/api/v1/wallet/", token)

        # Then it gets its balance as JSON: the opening 1,000.00 less what the demo had it send
        # (a 20.00 transfer and an 8.88 red packet, manage.py demo_wallet)
        assert status == 200, body
        assert json.loads(body)["balance"] == "971.12"

        # And the launcher said which servers it uses, ran as the local demo (where the sandbox may), logged
        # gunicorn's lines in TIME_ZONE and left its servers and secrets for a second shell
        output = launcher.output()
        assert f"PostgreSQL: postgresql://postgres:@/wallet?host={launcher.var_dir / 'pg'}  (embedded)" in output
        assert f"Redis: unix://{launcher.var_dir / 'redis' / 'redis.sock'}?db=0  (embedded)" in output
        assert "project.E005" not in output
        assert "+0800] [" in next(line for line in output.splitlines() if "Starting gunicorn" in line)
        for name in ("run.env", "secrets.env"):
            assert (launcher.var_dir / name).stat().st_mode & 0o777 == 0o600
        assert 'make manage ARGS="payout_drill --count 20"' in output

        # And Ctrl-C stops the launcher, every process it started and the embedded PostgreSQL,
        # and takes the servers away from second shells
        launcher.process.send_signal(signal.SIGINT)
        assert launcher.process.wait(STOP_TIMEOUT) == 0
        _, alive = psutil.wait_procs(launcher.started, timeout=STOP_TIMEOUT)
        assert alive == []
        assert not (launcher.var_dir / "pg" / "postmaster.pid").exists()
        assert not (launcher.var_dir / "run.env").exists()


@pytest.mark.slow
def test_the_drill_from_a_second_shell_uses_the_running_system_and_its_stalled_sandbox_calls_block_no_request(
    tmp_path_factory,
):
    # Given `make run` with one web process, whose adapters give up on the sandbox after 2 s
    with _launched(
        tmp_path_factory, WEB_CONCURRENCY="1", CHANNEL_READ_TIMEOUT="2", PAYOUT_RETRY_BASE_SECONDS="1"
    ) as launcher:
        token = json.loads((launcher.var_dir / "demo_tokens.json").read_text())["tokens"]["alice"]
        _wait_for_the_demo_payouts(launcher)

        # When a second shell, knowing only the var directory, runs a drill whose first request
        # stalls at the sandbox for 30 s, and a client keeps using the API meanwhile
        drill = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "payout_drill", "--count", "2", "--mix", "timeout=0.5"]
            + ["--sweep-after", "3", "--timeout", "120"],
            cwd=BASE_DIR,
            env=_fresh_shell(WALLET_VAR_DIR=str(launcher.var_dir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        latencies = []
        while drill.poll() is None:
            started = time.monotonic()
            status, body = _get(f"{launcher.base}/api/v1/wallet/", token, timeout=30)
            latencies.append(time.monotonic() - started)
            assert status == 200, body
            time.sleep(0.5)
        out, err = drill.communicate()

        # Then the drill ran on the launcher's servers and every order ended paid, one after a
        # stall the sandbox is still sitting in
        assert drill.returncode == 0, f"{out}\n{err}"
        assert err.splitlines()[0] == (
            f"Using the servers and secrets of the `make run` in {launcher.var_dir} (from run.env)."
        )
        assert "all 2 orders are final" in out and "our orders: success 2" in out, out
        assert "2 requests for 1 order" in out, out
        # And the API answered at once all along, and no web worker was killed
        assert len(latencies) >= 3 and max(latencies) < 2, latencies
        assert "WORKER TIMEOUT" not in launcher.output()
