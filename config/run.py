"""`make run`: the whole back-office in one terminal (docs/ARCHITECTURE.md §11).

Starts (or finds through the environment) PostgreSQL and Redis, migrates, collects static
files, loads the demo data, then supervises gunicorn, one Celery worker (of every queue) and
Celery beat, and the channel sandbox on a gunicorn of its own (``SANDBOX_PORT``, the web port
plus one): a payment create holds an API thread while it calls the channel, so a sandbox on the
API's own threads could be starved by enough concurrent creates, each waiting for a thread that
another create holds.
Each child runs in its own process group so a Ctrl-C in the terminal reaches only this
launcher, which then stops the children in order before the servers they depend on.
If any child exits on its own, the rest are stopped and the launcher exits non-zero.

Secrets the environment does not set are made once per var directory (``secrets.env``) and
given to every child. While it runs, the launcher keeps the servers' URLs and the secrets in
``run.env`` for the management commands of a second shell (config/runenv.py).
"""

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection
from contextlib import ExitStack, suppress
from pathlib import Path
from urllib.parse import urlsplit

from config import embedded, locales, queues, runenv
from config.keys import DEVELOPMENT_VALUES, keys_generate

BASE_DIR = Path(__file__).resolve().parent.parent
CHILD_STOP_TIMEOUT = 20
WEB_START_TIMEOUT = 60
# A manage.py probing the lock holds it for an instant (runenv.launcher_alive).
LOCK_ATTEMPTS = 20
SECRETS_FILE = "secrets.env"
SECRETS = tuple(DEVELOPMENT_VALUES)
# What a management command needs to act on this system rather than on the settings' defaults.
RUN_ENV_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SANDBOX_ENABLED",
    "WALLET_LOCAL_DEMO",
    "PUBLIC_BASE_URL",
    "SANDBOX_BASE_URL",
    "DJANGO_STATIC_ROOT",
    *SECRETS,
)


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; raised from the signal handler."""


class ChildFailed(Exception):
    """A set-up step or a supervised process exited on its own."""


def main() -> int:
    var_dir = runenv.var_dir(os.environ)
    var_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("PORT", "8000"))
    sandbox_port = int(os.environ.get("SANDBOX_PORT") or port + 1)
    lock = _lock(var_dir)
    if lock is None:
        print(f"Another `make run` is using {var_dir}; stop it first.", file=sys.stderr)
        return 1
    if not _port_free(port):
        print(f"Port {port} on 127.0.0.1 is in use; set PORT to another one.", file=sys.stderr)
        return 1
    if not _port_free(sandbox_port):
        print(f"Port {sandbox_port} on 127.0.0.1 is in use; set SANDBOX_PORT to another one.", file=sys.stderr)
        return 1
    if _data_of_the_development_keys(var_dir):
        print(
            f"{var_dir} holds data of an older `make run`, sealed with the published development keys; "
            f"this one makes keys of its own. Delete {var_dir} for a fresh start.",
            file=sys.stderr,
        )
        return 1
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with ExitStack() as stack:
        try:
            servers = stack.enter_context(embedded.services(var_dir))
            env = os.environ | servers | _secrets(var_dir)
            env.setdefault("DJANGO_STATIC_ROOT", str(var_dir / "static"))
            if not env.get("PROMETHEUS_MULTIPROC_DIR"):
                env["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir(var_dir))
            # Channels without credentials use the sandbox on this server and notify back to it.
            env.setdefault("SANDBOX_ENABLED", "true")
            # The sandbox and plain HTTP on 127.0.0.1 without DEBUG's error pages: the local demo,
            # refused for any host but loopback (config.checks, config.settings).
            env.setdefault("WALLET_LOCAL_DEMO", "true")
            env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
            env.setdefault("SANDBOX_BASE_URL", f"http://127.0.0.1:{sandbox_port}/sandbox")
            _print_servers(env, started=servers)
            run_env = var_dir / runenv.RUN_ENV
            stack.callback(run_env.unlink, missing_ok=True)
            runenv.env_file_write(run_env, {name: env[name] for name in RUN_ENV_VARIABLES if env.get(name)})
            manage = [sys.executable, str(BASE_DIR / "manage.py")]
            locales.messages_compile()
            # migrate runs the system checks and shows their warnings; the later steps skip them.
            _step([*manage, "migrate", "--noinput"], env)
            _step([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env)
            # Seeds the demo (its lines pass through as they come) and answers the guide to it;
            # --reset refills a review queue the staff worked off since the last start.
            guide = _step(
                [*manage, "demo_data", "--skip-checks", "--reset"]
                + ["--tokens-file", str(var_dir / "demo_tokens.json"), "--guide-file", str(var_dir / "next-steps.txt")],
                env,
            )
            children: dict[str, subprocess.Popen] = {}
            stack.callback(_stop, children.values())
            _start_children(children, env, port, sandbox_port)
            _wait_for_web(children, port)
            print(f"\nWeb server: http://127.0.0.1:{port}/ is up. What to try next:\n\n{guide}\n")
            print(_second_shell_hint(var_dir))
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
    """Hold an exclusive lock on var/run.lock for the launcher's lifetime; None if another
    launcher has it. A manage.py checking for a launcher holds it for an instant: retry a bit."""
    handle = (var_dir / runenv.RUN_LOCK).open("w")
    for _ in range(LOCK_ATTEMPTS):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            time.sleep(0.05)
    handle.close()
    return None


def _data_of_the_development_keys(var_dir: Path) -> bool:
    """An embedded database made before the launcher made its own secrets: its payout accounts
    do not decrypt and its blind indexes do not match under new keys."""
    missing = [name for name in SECRETS if not os.environ.get(name)]
    return (
        bool(missing)
        and not os.environ.get("DATABASE_URL")
        and not (var_dir / SECRETS_FILE).exists()
        and (var_dir / "pg" / "PG_VERSION").exists()
    )


def _secrets(var_dir: Path) -> dict[str, str]:
    """The secrets the environment does not set, made once per var directory and kept in
    var/secrets.env (mode 0600): data sealed under them stays readable on every later start."""
    path = var_dir / SECRETS_FILE
    stored = runenv.env_file_read(path) if path.exists() else {}
    missing = [name for name in SECRETS if not os.environ.get(name)]
    fresh = keys_generate(key_id="run1")
    made = {name: fresh[name] for name in missing if not stored.get(name)}
    if made:
        runenv.env_file_write(path, stored | made)
        print(f"Made {', '.join(made)} for this var directory; kept in {path}.", flush=True)
    return {name: (stored | made)[name] for name in missing}


def _metrics_dir(var_dir: Path) -> Path:
    """Where gunicorn's and Celery's processes keep their metrics (prometheus-client's
    multiprocess mode), emptied at each start: a previous run's counters are not this one's."""
    path = var_dir / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


def _print_servers(env: dict[str, str], *, started: dict[str, str]) -> None:
    for label, name in (("PostgreSQL", "DATABASE_URL"), ("Redis", "REDIS_URL"), ("Celery broker", "CELERY_BROKER_URL")):
        if url := env.get(name):
            origin = "embedded" if name in started else f"{name} from the environment"
            print(f"{label}: {_without_password(url)}  ({origin})", flush=True)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _second_shell_hint(var_dir: Path) -> str:
    prefix = "" if var_dir == (BASE_DIR / "var").resolve() else f"WALLET_VAR_DIR={var_dir} "
    return (
        "Management commands from another shell use these servers and secrets while this runs "
        f"(from {var_dir / runenv.RUN_ENV}), for example:\n"
        f'  {prefix}make manage ARGS="payout_drill --count 20"'
    )


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


def _start_children(children: dict[str, subprocess.Popen], env: dict[str, str], port: int, sandbox_port: int) -> None:
    bin_dir = Path(sys.executable).parent
    gunicorn = [str(bin_dir / "gunicorn"), "--config", str(BASE_DIR / "config" / "gunicorn.conf.py"), "config.wsgi"]
    commands = {
        "web": [*gunicorn, "--bind", f"127.0.0.1:{port}"],
        # The channels' side, as a real channel is another server (the module's docstring).
        "sandbox": [*gunicorn, "--bind", f"127.0.0.1:{sandbox_port}", "--workers", "1"],
        # One worker for every queue: on one machine nothing is gained by splitting them.
        "worker": [
            *(str(bin_dir / "celery"), "-A", "config", "worker", "--queues", ",".join(queues.QUEUES)),
            *("--concurrency", "2", "--loglevel", "INFO"),
        ],
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
