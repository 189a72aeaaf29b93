"""Outside DEBUG, the published development secrets stop every process before it starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import SystemCheckError

from config.checks import published_secrets, refuse_unsafe_start
from config.keys import DEVELOPMENT_VALUES, keys_generate

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")


def apply(settings, values: dict[str, str]) -> None:
    settings.SANDBOX_ENABLED = False
    settings.SECRET_KEY = values["DJANGO_SECRET_KEY"]
    settings.FIELD_ENCRYPTION_KEYS = values["FIELD_ENCRYPTION_KEYS"]
    settings.BLIND_INDEX_KEY = values["BLIND_INDEX_KEY"]


def error_ids(messages) -> list[str]:
    return sorted(message.id for message in messages if message.is_serious())


def test_the_published_values_outside_debug_are_three_errors(settings):
    settings.DEBUG = False
    apply(settings, DEVELOPMENT_VALUES)

    assert error_ids(published_secrets(None)) == ["project.E001", "project.E002", "project.E003"]
    with pytest.raises(SystemCheckError, match="FIELD_ENCRYPTION_KEYS"):
        refuse_unsafe_start()


def test_the_published_encryption_key_kept_as_an_old_key_is_an_error_too(settings):
    settings.DEBUG = False
    fresh = keys_generate()
    published = DEVELOPMENT_VALUES["FIELD_ENCRYPTION_KEYS"].partition(":")[2]
    apply(settings, fresh | {"FIELD_ENCRYPTION_KEYS": f"{fresh['FIELD_ENCRYPTION_KEYS']},old:{published}"})

    assert error_ids(published_secrets(None)) == ["project.E002"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_an_empty_secret_outside_debug_is_an_error(settings, name):
    settings.DEBUG = False
    apply(settings, keys_generate() | {name: " "})

    assert len(error_ids(published_secrets(None))) == 1


def test_own_secrets_outside_debug_and_development_values_in_debug_start(settings):
    settings.DEBUG = False
    apply(settings, keys_generate())
    assert published_secrets(None) == []
    refuse_unsafe_start()

    settings.DEBUG = True
    apply(settings, DEVELOPMENT_VALUES)
    assert published_secrets(None) == []


def environment(**changes: str) -> dict[str, str]:
    """This process's environment without the three secrets and the sandbox, with ``changes``."""
    env = {name: value for name, value in os.environ.items() if name not in SECRET_NAMES}
    return env | {"DJANGO_DEBUG": "false", "SANDBOX_ENABLED": "false"} | changes


def run(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_manage_py_check_deploy_and_the_web_server_refuse_to_start_with_the_published_secrets():
    check = run("manage.py", "check", "--deploy", env=environment())
    wsgi = run("-c", "import config.wsgi", env=environment())

    assert check.returncode != 0
    for number in (1, 2, 3):
        assert f"project.E00{number}" in check.stderr
    assert wsgi.returncode != 0
    assert "The settings are not safe to start with" in wsgi.stderr
    assert "DJANGO_SECRET_KEY is not set or holds the published development value" in wsgi.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [("worker", "--pool", "solo", "-Q", "nothing"), ("beat", "--schedule", os.devnull)],
    ids=["worker", "beat"],
)
def test_celery_refuses_to_start_with_the_published_secrets(command):
    celery = run("-m", "celery", "-A", "config", *command, env=environment())

    assert celery.returncode != 0
    assert "project.E001" in celery.stderr


@pytest.mark.slow
def test_with_own_secrets_the_web_server_starts():
    wsgi = run("-c", "import config.wsgi", env=environment(**keys_generate()))

    assert wsgi.returncode == 0, wsgi.stderr
