"""Pieces of the `make run` launcher that need no servers: its secrets and its lock."""

import fcntl
import threading

import pytest

from config import run, runenv
from payments import encryption

SECRET_NAMES = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")


@pytest.fixture
def no_secrets_in_the_environment(monkeypatch):
    for name in SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_the_secrets_are_made_once_per_var_dir_kept_private_and_reused(tmp_path, no_secrets_in_the_environment):
    # Given a fresh var directory and no secrets in the environment
    # When the launcher starts twice
    first = run._secrets(tmp_path)
    second = run._secrets(tmp_path)

    # Then both starts use the same strong secrets, kept in a file only its owner reads
    assert first == second
    assert set(first) == set(SECRET_NAMES)
    assert len(first["DJANGO_SECRET_KEY"]) >= 50 and len(first["BLIND_INDEX_KEY"]) >= 32
    ring = encryption._parse_keys(first["FIELD_ENCRYPTION_KEYS"])
    assert ring.current_id == "run1"
    assert (tmp_path / run.SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    assert runenv.env_file_read(tmp_path / run.SECRETS_FILE) == first


def test_a_secret_set_in_the_environment_is_used_and_not_made(tmp_path, no_secrets_in_the_environment, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "from-the-environment")

    made = run._secrets(tmp_path)

    assert set(made) == {"FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}
    assert "DJANGO_SECRET_KEY" not in runenv.env_file_read(tmp_path / run.SECRETS_FILE)


def test_an_embedded_database_from_before_the_launchers_own_secrets_is_recognised(
    tmp_path, no_secrets_in_the_environment, monkeypatch
):
    # Given a var directory with an embedded cluster but no secrets file
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("18\n")

    # Then it holds data of the development keys, until the launcher has made its own
    assert run._data_of_the_development_keys(tmp_path)
    run._secrets(tmp_path)
    assert not run._data_of_the_development_keys(tmp_path)


def test_a_manage_py_probing_for_a_launcher_does_not_turn_a_starting_launcher_away(tmp_path):
    # Given a manage.py holding the shared lock for an instant, as runenv.launcher_alive does
    probe = (tmp_path / runenv.RUN_LOCK).open("w")
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)

    # When a launcher starts meanwhile and the probe lets go
    threading.Timer(0.2, probe.close).start()
    lock = run._lock(tmp_path)

    # Then the launcher got its lock, and a probe now sees it alive
    assert lock is not None
    assert runenv.launcher_alive(tmp_path)
    lock.close()
    assert not runenv.launcher_alive(tmp_path)
