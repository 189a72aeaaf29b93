"""The benches' own databases: dropped and recreated on every run, so a bench never touches a
database whose name does not say it is one."""

from urllib.parse import urlsplit

import psycopg


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database's name must contain 'bench'")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def bench_prepare(database_url: str, redis_url: str) -> None:
    """A fresh bench database, migrated, and an empty Redis database, with Django set up on
    them: the environment must already name both (DATABASE_URL, REDIS_URL)."""
    import django
    import redis
    from django.core.management import call_command

    recreate_database(database_url)
    redis.Redis.from_url(redis_url).flushdb()
    django.setup()
    call_command("migrate", verbosity=0)
