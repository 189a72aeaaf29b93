"""Outside DEBUG each unsafe setting alone stops every process; `check --deploy` is clean under the
production settings of docs/OPERATIONS.md ("Production settings")."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks

from config.checks import refuse_unsafe_command
from config.keys import DEVELOPMENT_VALUES, keys_generate

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")


@pytest.fixture
def production(settings):
    """The test process's settings made safe for production: own secrets, no sandbox, a real host."""
    fresh = keys_generate()
    settings.DEBUG = False
    settings.SECRET_KEY = fresh["DJANGO_SECRET_KEY"]
    settings.FIELD_ENCRYPTION_KEYS = fresh["FIELD_ENCRYPTION_KEYS"]
    settings.BLIND_INDEX_KEY = fresh["BLIND_INDEX_KEY"]
    settings.SANDBOX_ENABLED = False
    settings.LOCAL_DEMO = False
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.ALLOWED_HOSTS = ["wallet.example.com"]
    return settings


def security_errors() -> list[str]:
    return sorted(str(message.id) for message in checks.run_checks(tags=[checks.Tags.security]) if message.is_serious())


def test_the_production_settings_have_no_security_error(production):
    assert security_errors() == []


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("SECRET_KEY", DEVELOPMENT_VALUES["DJANGO_SECRET_KEY"], "project.E001"),
        ("SECRET_KEY", " ", "project.E001"),
        ("FIELD_ENCRYPTION_KEYS", DEVELOPMENT_VALUES["FIELD_ENCRYPTION_KEYS"], "project.E002"),
        ("BLIND_INDEX_KEY", DEVELOPMENT_VALUES["BLIND_INDEX_KEY"], "project.E003"),
        ("SECRET_KEY", "too-short-a-key", "project.E004"),
        ("SECRET_KEY", "ab" * 40, "project.E004"),
        ("SECRET_KEY", "django-insecure-" + keys_generate()["DJANGO_SECRET_KEY"], "project.E004"),
        ("SANDBOX_ENABLED", True, "project.E005"),
        ("ALLOWED_HOSTS", ["wallet.example.com", "*"], "project.E006"),
        ("WEBHOOK_ALLOW_PRIVATE_URLS", True, "project.E101"),
        ("AXES_FAILURE_LIMIT", 1_000_000, "project.E008"),
        ("PAYMENT_PASSWORD_MAX_TRIES", 11, "project.E008"),
        ("PAYMENT_PASSWORD_LOCK_SECONDS", 0, "project.E008"),
    ],
    ids=[
        "published-secret-key",
        "empty-secret-key",
        "published-encryption-key",
        "published-blind-index-key",
        "short-secret-key",
        "repetitive-secret-key",
        "django-insecure-secret-key",
        "sandbox",
        "wildcard-host",
        "private-webhook-urls",
        "lockout-that-never-locks",
        "payment-password-tries-over-ten",
        "payment-password-lock-of-no-time",
    ],
)
def test_each_unsafe_setting_alone_is_an_error_outside_debug_and_none_in_debug(production, setting, value, error):
    setattr(production, setting, value)
    assert security_errors() == [error]

    production.DEBUG = True
    assert security_errors() == []


def test_manage_py_refuses_unsafe_settings_before_any_command_but_check(production):
    production.SANDBOX_ENABLED = True

    for argv in (["manage.py", "shell"], ["manage.py", "migrate", "--skip-checks"]):
        with pytest.raises(SystemExit, match="project.E005"):
            refuse_unsafe_command(argv)
    refuse_unsafe_command(["manage.py", "check", "--deploy"])
    refuse_unsafe_command(["manage.py", "help"])


def production_environment(**changes: str) -> dict[str, str]:
    """This process's environment as a deployment behind an HTTPS proxy sets it: own secrets, DEBUG
    and the sandbox off, its host name, the secure defaults of config/settings.py left alone."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "SANDBOX_"))}
    return (
        kept
        | keys_generate()
        | {
            "DJANGO_DEBUG": "false",
            "SANDBOX_ENABLED": "false",
            "DJANGO_ALLOWED_HOSTS": "wallet.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://wallet.example.com",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        }
        | changes
    )


def run(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_check_deploy_is_clean_under_the_production_settings():
    check = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_environment())

    assert check.returncode == 0, check.stderr
    assert "System check identified no issues (0 silenced)." in check.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"SANDBOX_ENABLED": "true"}, "project.E005"),
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "project.E006"),
        ({"DJANGO_SECRET_KEY": "short"}, "project.E004"),
        ({"BLIND_INDEX_KEY": ""}, "project.E003"),
    ],
    ids=["sandbox", "wildcard-host", "weak-secret-key", "no-blind-index-key"],
)
def test_a_shell_and_the_web_server_do_not_start_with_one_unsafe_setting(changes, error):
    env = production_environment(**changes)

    shell = run("manage.py", "shell", "-c", "print('started')", env=env)
    wsgi = run("-c", "import config.wsgi", env=env)

    assert shell.returncode != 0
    assert "started" not in shell.stdout
    assert error in shell.stderr
    assert wsgi.returncode != 0
    assert error in wsgi.stderr


@pytest.mark.slow
def test_the_worker_does_not_start_with_the_sandbox_outside_debug():
    celery = run(
        "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-Q", "nothing",
        env=production_environment(SANDBOX_ENABLED="true"),
    )  # fmt: skip

    assert celery.returncode != 0
    assert "project.E005" in celery.stderr


@pytest.mark.slow
def test_beat_does_not_start_with_the_sandbox_outside_debug():
    beat = run("-m", "celery", "-A", "config", "beat", env=production_environment(SANDBOX_ENABLED="true"))

    assert beat.returncode != 0
    assert "project.E005" in beat.stderr
    # It stopped before its scheduler read or sent anything
    assert "Sending due task" not in beat.stdout + beat.stderr
    assert "beat raised exception" not in beat.stdout + beat.stderr


SHOW_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
    "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_AGE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE, "
    "s.SECURE_PROXY_SSL_HEADER, sep='|')"
)


@pytest.mark.slow
def test_outside_debug_the_web_settings_are_secure_by_default_and_the_environment_changes_them():
    secure = run("-c", SHOW_SETTINGS, env=production_environment(DJANGO_SETTINGS_MODULE="config.settings"))
    changed = run(
        "-c",
        SHOW_SETTINGS,
        env=production_environment(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_SECURE_SSL_REDIRECT="false",
            DJANGO_SECURE_HSTS_SECONDS="3600",
            DJANGO_SESSION_COOKIE_AGE="1800",
            DJANGO_SECURE_PROXY_SSL_HEADER="",
        ),
    )

    assert secure.stdout.split("|") == [
        "True", "31536000", "True", "True", "True", "True", "28800", "True", "('HTTP_X_FORWARDED_PROTO', 'https')\n"
    ]  # fmt: skip
    assert changed.stdout.split("|") == [
        "False", "3600", "True", "True", "True", "True", "1800", "True", "None\n"
    ]  # fmt: skip


def test_the_local_demo_may_have_the_sandbox_on_loopback_only(production):
    # Given `make run`'s settings: the local demo, the sandbox, loopback hosts only
    production.LOCAL_DEMO = True
    production.SANDBOX_ENABLED = True
    production.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    assert security_errors() == []

    # When the same settings name a real host, both the sandbox and the demo refuse to start
    production.ALLOWED_HOSTS = ["localhost", "wallet.example.com"]
    assert security_errors() == ["project.E005", "project.E007"]

    # And without the sandbox the demo flag alone still refuses a real host
    production.SANDBOX_ENABLED = False
    assert security_errors() == ["project.E007"]
