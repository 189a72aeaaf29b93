"""The servers and secrets of a running `make run`, for the management commands started beside it.

`make run` may start its own PostgreSQL and Redis on unix sockets under its var directory and
makes its own secrets, so a `manage.py` in a second shell cannot guess them. While it runs, the
launcher keeps them in ``<var>/run.env`` (mode 0600) and `manage.py` takes from that file what
its environment does not set. A launcher that was killed leaves the file behind, so the file
counts only while ``<var>/run.lock`` is locked: the lock lives exactly as long as the launcher.
"""

import fcntl
import os
import shlex
from collections.abc import Mapping, MutableMapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_ENV = "run.env"
RUN_LOCK = "run.lock"
# Set in this shell to something else, one of these means other servers: mixing them with the
# launcher's would pair one database with another system's broker, so the file is not used.
SERVERS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


def var_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("WALLET_VAR_DIR") or BASE_DIR / "var").resolve()


def env_file_write(path: Path, values: Mapping[str, str]) -> None:
    """``NAME=value`` lines, values shell-quoted so ``set -a; . var/run.env`` works too. The file
    holds secrets: it is mode 0600 from its creation and replaces the old one in one rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.writelines(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    temporary.replace(path)


def env_file_read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        for word in shlex.split(line, comments=True):
            name, separator, value = word.partition("=")
            if separator:
                values[name] = value
    return values


def launcher_alive(directory: Path) -> bool:
    """Whether a `make run` holds the exclusive lock of ``directory``: a shared lock then fails.
    The launcher retries its own lock for a moment, so this short probe never turns it away."""
    try:
        handle = (directory / RUN_LOCK).open("rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def adopt(environ: MutableMapping[str, str]) -> str:
    """Fill ``environ`` with the running launcher's variables it lacks; returns the one line that
    tells the user so (or why not), "" when there is no launcher or nothing to add."""
    directory = var_dir(environ)
    path = directory / RUN_ENV
    if not path.exists() or not launcher_alive(directory):
        return ""
    values = env_file_read(path)
    others = [name for name in SERVERS if environ.get(name) and environ[name] != values.get(name, environ[name])]
    if others:
        return (
            f"Not using the servers of the `make run` in {directory}: this shell sets {', '.join(others)} "
            "to other ones (unset to use the launcher's)."
        )
    missing = {name: value for name, value in values.items() if not environ.get(name)}
    if not missing:
        return ""
    environ.update(missing)
    return f"Using the servers and secrets of the `make run` in {directory} (from {path.name})."
