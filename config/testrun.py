"""`make test`: lint, types, migration check and the whole pytest suite on real PostgreSQL and Redis.

Stops at the first failing step. The servers are those in DATABASE_URL / REDIS_URL, else
the ones listening on 127.0.0.1:5432 / :6379 (CI), else embedded ones under var/test/
(apart from `make run`'s var/pg, so both can run at once), stopped afterwards.

Loaded into pytest with ``-p config.testrun`` this module is also a plugin that gives every
pytest-xdist worker its own Redis database and cache key prefix, so one worker's
``cache.clear()`` (a FLUSHDB) cannot wipe another's keys.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from config import embedded, locales
from config.keys import keys_generate

BASE_DIR = Path(__file__).resolve().parent.parent
PYTEST_DEFAULT_ARGS = ["-n", "2"]
# The inner loop's tests: none that commits for real (live), drives a browser or starts processes.
FAST_TESTS = "not live and not browser and not slow"


def main(arguments: list[str]) -> int:
    """``make test``: every step and the whole suite. ``make check`` (``--fast``): the same
    steps, and only the tests that need no live server, worker or browser."""
    fast = "--fast" in arguments
    pytest_args = [argument for argument in arguments if argument != "--fast"]
    if fast:
        pytest_args = ["-m", FAST_TESTS, *pytest_args]
        os.environ.setdefault("HYPOTHESIS_PROFILE", "check")
    python = sys.executable
    # The sandbox app is installed only when enabled: the types, the migration check and the
    # tests all see it.
    os.environ.setdefault("SANDBOX_ENABLED", "true")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    _test_keys()
    for tool in (
        [python, "-m", "ruff", "check", "."],
        [python, "-m", "ruff", "format", "--check", "."],
        [python, "-m", "mypy", "."],
        [str(Path(python).with_name("lint-imports"))],
    ):
        if code := _run(tool):
            return code
    var_dir = Path(os.environ.get("WALLET_VAR_DIR") or BASE_DIR / "var").resolve() / "test"
    locales.messages_compile()
    with embedded.services(var_dir, use_local=True) as urls:
        os.environ.update(urls)
        print(f"PostgreSQL: {os.environ['DATABASE_URL']}\nRedis: {os.environ['REDIS_URL']}", flush=True)
        if code := _run([python, "manage.py", "makemigrations", "--check", "--dry-run"]):
            return code
        # Exit code 5 (no tests collected) is returned as is, so it fails too.
        return _run([python, "-m", "pytest", "-p", "config.testrun", *PYTEST_DEFAULT_ARGS, *pytest_args])


def _run(command: list[str]) -> int:
    shown = ["python", *command[1:]] if command[0] == sys.executable else [Path(command[0]).name, *command[1:]]
    print(f"\n$ {' '.join(shown)}", flush=True)
    return subprocess.run(command, cwd=BASE_DIR, check=False).returncode  # noqa: S603


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Runs before pytest-django imports the settings, which read these variables."""
    # The live server answers on threads of its own; kept-alive connections would outlive them
    # and stop pytest from dropping the test database at the end.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
    # Channels without credentials (all of them here) go to the sandbox.
    os.environ.setdefault("SANDBOX_ENABLED", "true")
    # The sandbox and plain HTTP run only in DEBUG: the processes the tests start take it from here
    # (pytest-django turns DEBUG off inside the tests themselves).
    os.environ.setdefault("DJANGO_DEBUG", "true")
    _test_keys()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # Without a URL every worker would share the settings' default database, and one
        # worker's Celery worker would take the other's payout tasks.
        os.environ.setdefault("REDIS_URL", embedded.LOCAL_REDIS_URL)
        db = 1 + int(worker.removeprefix("gw")) % 15
        for name in ("REDIS_URL", "CELERY_BROKER_URL"):
            if os.environ.get(name):
                os.environ[name] = redis_url_with_db(os.environ[name], db)
        os.environ["CACHE_KEY_PREFIX"] = f"{os.environ.get('CACHE_KEY_PREFIX', 'wallet')}-{worker}"
    return (yield)


def _test_keys() -> None:
    """Fresh secrets for this run, unless given: the processes some tests start run without DEBUG
    (config/tests/test_settings_*.py), where the published development ones stop them.
    Set before pytest-xdist starts its workers, so they all share them."""
    for name, value in keys_generate(key_id="test1").items():
        os.environ.setdefault(name, value)


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server, database ``db``: in the path for TCP URLs, in the query for
    unix sockets (``db`` for redis-py, ``virtual_host`` for kombu's ``redis+socket``)."""
    base, _, query = url.partition("?")
    if url.startswith(("redis://", "rediss://")):
        scheme, _, rest = base.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/{db}" + (f"?{query}" if query else "")
    key = "virtual_host" if url.startswith("redis+socket://") else "db"
    return f"{base}?{urlencode(dict(parse_qsl(query)) | {key: str(db)})}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
