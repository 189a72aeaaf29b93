"""The test databases: one per pytest-xdist worker, cloned from a template that is migrated once
per set of migrations and kept on the server between runs.

Migrating a fresh database takes seconds per worker, and both workers did it at once on every
run; ``CREATE DATABASE ... TEMPLATE`` copies one in a fraction of a second. The template's name
carries a digest of everything ``migrate`` builds the database from (the migrations, the SQL
they load, the roles and schedules applied after them, the installed apps and the pinned
libraries), so a change to any of it builds a new template, and the old ones are dropped. A
template is built under another name and renamed when complete, under an advisory lock, so a
worker never clones a half-built one.
"""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
# What `migrate` builds the schema and the data of a fresh database from.
MIGRATION_SOURCES = (
    "*/migrations/*.py",
    "*/*/migrations/*.py",
    "wallet/sql/*.sql",
    "config/roles.py",
    "config/schedules.py",
    "requirements.txt",
)


def migrations_digest() -> str:
    digest = hashlib.sha256(repr(settings.INSTALLED_APPS).encode())
    for pattern in MIGRATION_SOURCES:
        for path in sorted(BASE_DIR.glob(pattern)):
            digest.update(path.relative_to(BASE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_modify_db_settings
) -> Iterator[None]:
    """Replaces pytest-django's: the worker's database is a clone of the template."""
    settings_dict = connection.settings_dict
    original_name = settings_dict["NAME"]
    worker_name = settings_dict["TEST"]["NAME"]
    suffix = f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
    prefix = f"{worker_name.removesuffix(suffix)}_template_"
    template = f"{prefix}{migrations_digest()}"
    with django_db_blocker.unblock():
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [prefix])
            try:
                if not _exists(cursor, template):
                    _template_build(cursor, template=template, prefix=prefix, worker_name=worker_name)
                cursor.execute(f'DROP DATABASE IF EXISTS "{worker_name}"')
                cursor.execute(f'CREATE DATABASE "{worker_name}" TEMPLATE "{template}"')
                # A test database is thrown away: its commits need not wait for the disk.
                cursor.execute(f'ALTER DATABASE "{worker_name}" SET synchronous_commit = off')
            finally:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [prefix])
        settings_dict["NAME"] = worker_name
        connection.close()
        if any(_serialized_rollback(item) for item in request.session.items):
            connection._test_serialized_contents = connection.creation.serialize_db_to_string()  # type: ignore[attr-defined]
    yield
    with django_db_blocker.unblock():
        connection.creation.destroy_test_db(original_name, verbosity=0)


def _template_build(cursor, *, template: str, prefix: str, worker_name: str) -> None:
    """Migrate a database under a building name, then give it the template's name: a build that
    fails halfway leaves no template behind. Templates of other migrations are dropped."""
    cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{prefix}%"])
    for (stale,) in cursor.fetchall():
        cursor.execute(f'DROP DATABASE IF EXISTS "{stale}"')
    building = f"{template}_building"
    connection.settings_dict["TEST"]["NAME"] = building
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.settings_dict["TEST"]["NAME"] = worker_name
        connection.close()
    cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _serialized_rollback(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("serialized_rollback"))
