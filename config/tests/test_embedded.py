"""The embedded servers survive what a killed `make run` leaves behind, and each pytest-xdist
worker gets its own Redis database."""

import os
import subprocess

import psycopg
import pytest
import redis

from config import embedded, testrun


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/3"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/3"),
        ("unix:///var/redis/redis.sock?db=0", "unix:///var/redis/redis.sock?db=3"),
        ("redis+socket:///var/redis/redis.sock?virtual_host=0", "redis+socket:///var/redis/redis.sock?virtual_host=3"),
    ],
)
def test_redis_url_with_db_keeps_the_server_and_changes_the_database(url, expected):
    assert testrun.redis_url_with_db(url, 3) == expected


def test_each_xdist_worker_gets_its_own_redis_database_and_cache_prefix(monkeypatch):
    # Given the environment make test hands to pytest, seen from worker gw2
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis+socket:///r.sock?virtual_host=0")
    monkeypatch.setenv("CACHE_KEY_PREFIX", "wallet")

    # When the plugin hook runs before the settings are imported
    hook = testrun.pytest_load_initial_conftests(None, None, [])
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(None)

    # Then the worker uses database 3 and its own key prefix
    assert os.environ["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert os.environ["CELERY_BROKER_URL"] == "redis+socket:///r.sock?virtual_host=3"
    assert os.environ["CACHE_KEY_PREFIX"] == "wallet-gw2"


@pytest.mark.slow
def test_embedded_redis_replaces_a_server_left_running_by_a_killed_launcher(tmp_path):
    # Given a Redis whose launcher died without stopping it
    orphan = embedded.EmbeddedRedis(tmp_path / "redis")
    orphan.start()
    redis.Redis.from_url(orphan.url()).set("kept", "yes")

    # When the next launcher starts Redis in the same directory
    server = embedded.EmbeddedRedis(tmp_path / "redis")
    try:
        server.start()

        # Then the orphan has been stopped, and its data saved and loaded again
        assert orphan.process is not None
        assert orphan.process.wait(5) == 0
        assert redis.Redis.from_url(server.url()).get("kept") == b"yes"
    finally:
        server.stop()
        orphan.stop()


@pytest.mark.slow
def test_embedded_postgres_restarts_over_stale_lock_files_and_creates_the_database_once(tmp_path):
    # Given a stopped cluster whose pid and socket lock files name a live process of the server's
    # user that is not postgres (a reused pid, or the zombie of a killed postmaster)
    postgres = embedded.EmbeddedPostgres(tmp_path / "pg")
    postgres.start()
    postgres.stop()
    impostor = subprocess.Popen(["sleep", "60"], user=postgres.server.system_user)  # noqa: S607
    for name in ("postmaster.pid", ".s.PGSQL.5432.lock"):
        (tmp_path / "pg" / name).write_text(f"{impostor.pid}\n{tmp_path / 'pg'}\n")

    # When it is started again and the wallet database is asked for twice
    postgres = embedded.EmbeddedPostgres(tmp_path / "pg")
    try:
        postgres.start()
        url = postgres.url("wallet")
        embedded.database_create(url)
        embedded.database_create(url)

        # Then the database is there and answers
        with psycopg.connect(host=str(tmp_path / "pg"), user="postgres", dbname="wallet") as connection:
            assert connection.execute("SELECT current_database()").fetchone() == ("wallet",)
    finally:
        impostor.kill()
        impostor.wait()
        postgres.stop()
