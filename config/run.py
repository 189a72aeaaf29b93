"""`make run`: the whole back-office in one terminal (DESIGN §11).

Starts (or finds through the environment) PostgreSQL and Redis, migrates, collects static
files, loads the demo data, then supervises gunicorn, one Celery worker and Celery beat.
Each child runs in its own process group so a Ctrl-C in the terminal reaches only this
launcher, which then stops the children in order before the servers they depend on.
If any child exits on its own, the rest are stopped and the launcher exits non-zero.
"""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection
from contextlib import ExitStack, suppress
from pathlib import Path

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
CHILD_STOP_TIMEOUT = 20
WEB_START_TIMEOUT = 60


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; raised from the signal handler."""


class ChildFailed(Exception):
    """A set-up step or a supervised process exited on its own."""


def main() -> int:
    var_dir = Path(os.environ.get("WALLET_VAR_DIR") or BASE_DIR / "var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT", "8000"))
    lock = _lock(var_dir)
    if lock is None:
        print(f"Another `make run` is using {var_dir}; stop it first.", file=sys.stderr)
        return 1
    if not _port_free(port):
        print(f"Port {port} on 127.0.0.1 is in use; set PORT to another one.", file=sys.stderr)
        return 1
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with ExitStack() as stack:
        try:
            env = os.environ | stack.enter_context(embedded.services(var_dir))
            env.setdefault("DJANGO_STATIC_ROOT", str(var_dir / "static"))
            # Channels without credentials use the sandbox on this server and notify back to it.
            env.setdefault("SANDBOX_ENABLED", "true")
            env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
            manage = [sys.executable, str(BASE_DIR / "manage.py")]
            _step([*manage, "migrate", "--noinput"], env)
            _step([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env)
            credentials = _step([*manage, "demo_data", "--tokens-file", str(var_dir / "demo_tokens.json")], env)
            credentials += "\n" + _step([*manage, "demo_payments"], env)
            children: dict[str, subprocess.Popen] = {}
            stack.callback(_stop, children.values())
            _start_children(children, env, port)
            _wait_for_web(children, port)
            print(f"\n{credentials}\n\nWeb server: http://127.0.0.1:{port}/  (admin /admin/, API docs /api/docs/)")
            print("Press Ctrl-C to stop.\n", flush=True)
            while True:
                _check_alive(children)
                time.sleep(0.5)
        except Interrupted as interrupt:
            print(f"\n{interrupt}: stopping.", flush=True)
            return 0
        except ChildFailed as failure:
            print(f"\n{failure} Stopping.", file=sys.stderr, flush=True)
            return 1
        finally:
            _ignore_signals()


def _interrupt(signum: int, _frame) -> None:
    _ignore_signals()
    raise Interrupted(signal.Signals(signum).name)


def _ignore_signals() -> None:
    """Keep later signals from cutting the shutdown short; every wait in it is bounded."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _lock(var_dir: Path):
    """Hold an exclusive lock on var/run.lock for the launcher's lifetime; None if taken."""
    handle = (var_dir / "run.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _step(command: list[str], env: dict[str, str]) -> str:
    """Run one set-up command to completion and return its standard output."""
    print(f"$ manage.py {' '.join(command[2:])}", flush=True)
    process = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True, process_group=0)  # noqa: S603
    try:
        output, _ = process.communicate()
    except BaseException:
        _stop([process])
        raise
    if process.returncode:
        print(output, end="")
        raise ChildFailed(f"`{' '.join(command[1:])}` failed with exit code {process.returncode}.")
    return output.strip()


def _start_children(children: dict[str, subprocess.Popen], env: dict[str, str], port: int) -> None:
    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [
            str(bin_dir / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            env.get("WEB_CONCURRENCY", "2"),
            "--graceful-timeout",
            "10",
            "--access-logfile",
            "-",
            "--no-control-socket",
        ],
        "worker": [str(bin_dir / "celery"), "-A", "config", "worker", "--concurrency", "2", "--loglevel", "INFO"],
        "beat": [str(bin_dir / "celery"), "-A", "config", "beat", "--loglevel", "INFO"],
    }
    for name, command in commands.items():
        children[name] = subprocess.Popen(command, env=env, cwd=BASE_DIR, process_group=0)  # noqa: S603


def _wait_for_web(children: dict[str, subprocess.Popen], port: int) -> None:
    deadline = time.monotonic() + WEB_START_TIMEOUT
    while not embedded.tcp_open("127.0.0.1", port):
        _check_alive(children)
        if time.monotonic() > deadline:
            raise ChildFailed(f"The web server did not listen on port {port} within {WEB_START_TIMEOUT} s.")
        time.sleep(0.2)


def _check_alive(children: dict[str, subprocess.Popen]) -> None:
    for name, process in children.items():
        if process.poll() is not None:
            raise ChildFailed(f"{name} exited with code {process.returncode}.")


def _stop(processes: Collection[subprocess.Popen]) -> None:
    """SIGTERM each process group, wait, then SIGKILL whatever is left in the groups
    (gunicorn and Celery pool processes outlive a leader that was killed)."""
    for process in processes:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"pid {process.pid} did not stop in {CHILD_STOP_TIMEOUT} s; killing it.", file=sys.stderr)
    for process in processes:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


if __name__ == "__main__":
    sys.exit(main())
