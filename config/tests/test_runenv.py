"""`manage.py` in a second shell finds the servers and secrets of a running `make run` by itself,
and only while that launcher runs."""

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import runenv

BASE_DIR = Path(__file__).resolve().parents[2]
LAUNCHER_ENV = {
    "DATABASE_URL": "postgresql://postgres:@/wallet_of_the_launcher?host=/tmp/launcher-pg",
    "REDIS_URL": "unix:///tmp/launcher-redis/redis.sock?db=0",
    "CELERY_BROKER_URL": "redis+socket:///tmp/launcher-redis/redis.sock?virtual_host=0",
    "SANDBOX_ENABLED": "true",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8123",
    "DJANGO_SECRET_KEY": "launcher-secret-key-with-$pecial 'characters'",
}
# Prints what the settings of the command see; `shell` runs no system checks and opens no connection.
SHOW_SETTINGS = (
    "from django.conf import settings as s; "
    "print(s.DATABASES['default']['NAME'], s.CACHES['default']['LOCATION'], s.CELERY_BROKER_URL, "
    "s.SANDBOX_ENABLED, s.PUBLIC_BASE_URL, s.SECRET_KEY, sep='|')"
)


@pytest.fixture
def var_dir(tmp_path) -> Path:
    """A var directory whose launcher left its run.env."""
    runenv.env_file_write(tmp_path / runenv.RUN_ENV, LAUNCHER_ENV)
    return tmp_path


@pytest.fixture
def launcher_running(var_dir) -> Iterator[None]:
    """The launcher's lock on run.lock, held as `make run` holds it."""
    with (var_dir / runenv.RUN_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def _manage(var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py shell` from a shell that sets none of the launcher's variables but ``env``."""
    environ = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV and k != "DJANGO_SETTINGS_MODULE"}
    environ |= {"WALLET_VAR_DIR": str(var_dir), **env}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", SHOW_SETTINGS],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.slow
def test_manage_py_beside_a_running_launcher_uses_its_servers_and_secrets_and_says_so(var_dir, launcher_running):
    result = _manage(var_dir)

    assert result.stdout.strip().split("|") == [
        "wallet_of_the_launcher",
        LAUNCHER_ENV["REDIS_URL"],
        LAUNCHER_ENV["CELERY_BROKER_URL"],
        "True",
        "http://127.0.0.1:8123",
        LAUNCHER_ENV["DJANGO_SECRET_KEY"],
    ]
    assert result.stderr.splitlines()[0] == (
        f"Using the servers and secrets of the `make run` in {var_dir} (from run.env)."
    )


@pytest.mark.slow
def test_a_variable_set_in_the_shell_wins_over_the_launchers(var_dir, launcher_running):
    result = _manage(var_dir, SANDBOX_ENABLED="false")

    shown = result.stdout.strip().split("|")
    assert (shown[0], shown[3]) == ("wallet_of_the_launcher", "False")


@pytest.mark.slow
def test_a_shell_that_names_other_servers_keeps_them_all_and_says_why(var_dir, launcher_running):
    result = _manage(var_dir, DATABASE_URL="postgres://postgres@127.0.0.1:5432/wallet_elsewhere")

    shown = result.stdout.strip().split("|")
    assert (shown[0], shown[4]) == ("wallet_elsewhere", "http://127.0.0.1:8000")
    assert "this shell sets DATABASE_URL to other ones" in result.stderr.splitlines()[0]


@pytest.mark.slow
def test_the_file_of_a_launcher_that_is_gone_is_ignored(var_dir):
    (var_dir / runenv.RUN_LOCK).touch()

    result = _manage(var_dir)

    assert result.stdout.strip().split("|")[0] == "wallet"
    assert "make run" not in result.stderr


def test_the_run_env_file_is_readable_by_its_owner_only(var_dir):
    assert (var_dir / runenv.RUN_ENV).stat().st_mode & 0o777 == 0o600
    assert runenv.env_file_read(var_dir / runenv.RUN_ENV) == LAUNCHER_ENV
