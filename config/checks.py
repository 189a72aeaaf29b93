"""Unsafe production settings refuse to start (docs/OPERATIONS.md, "Production settings").

Outside DEBUG, a secret left at its published development value (or not set, which is the same),
a weak secret key, the channel sandbox or a wildcard host is a system check error: every
``manage.py`` command stops on it (manage.py, even those that skip the checks), and gunicorn
(config.wsgi) and the Celery worker and beat (config.celery) run the same checks before they
serve anything.
"""

from collections.abc import Sequence

import django
from django.conf import settings
from django.core import checks
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.management.base import SystemCheckError
from django.core.management.color import no_style

from config.keys import DEVELOPMENT_VALUES, encryption_key_values

FIX = (
    "Set it in the environment to a secret of your own (docs/OPERATIONS.md, 'Secrets'): "
    "python -c 'from config.keys import keys_generate; print(keys_generate())' prints new ones."
)


@checks.register(checks.Tags.security)
def published_secrets(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    current = {
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS,
        "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
    }
    errors: list[checks.CheckMessage] = []
    for number, (name, value) in enumerate(current.items(), start=1):
        if name == "FIELD_ENCRYPTION_KEYS":
            published = bool(encryption_key_values(value) & encryption_key_values(DEVELOPMENT_VALUES[name]))
        else:
            published = value == DEVELOPMENT_VALUES[name]
        if published or not value.strip():
            errors.append(
                checks.Error(
                    f"{name} is not set or holds the published development value, and DJANGO_DEBUG is off: "
                    "anything it protects is readable by anyone who has this repository.",
                    hint=FIX,
                    id=f"project.E00{number}",
                )
            )
    return errors


@checks.register(checks.Tags.security)
def weak_secret_key(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Django's own measure of a weak key (``check --deploy``'s security.W009), made an error: a
    short or repetitive key can be guessed, and with it sessions and password reset links forged."""
    key = settings.SECRET_KEY
    if settings.DEBUG or key == DEVELOPMENT_VALUES["DJANGO_SECRET_KEY"] or not key.strip():
        return []  # the development or a missing key is project.E001
    if (
        len(key) >= SECRET_KEY_MIN_LENGTH
        and len(set(key)) >= SECRET_KEY_MIN_UNIQUE_CHARACTERS
        and not key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        return []
    return [
        checks.Error(
            f"DJANGO_SECRET_KEY is weak: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, and no '{SECRET_KEY_INSECURE_PREFIX}' prefix.",
            hint=FIX,
            id="project.E004",
        )
    ]


# Host names that reach only this machine: the local demo may serve nothing else.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "testserver"})


def _loopback_only() -> bool:
    return bool(settings.ALLOWED_HOSTS) and set(settings.ALLOWED_HOSTS) <= LOOPBACK_HOSTS


@checks.register(checks.Tags.security)
def sandbox_outside_debug(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The sandbox's cashier page pays whatever it is asked to: channels without credentials that
    go to it must never face real users. Only DEBUG or the loopback-only local demo may have it."""
    if settings.DEBUG or not settings.SANDBOX_ENABLED or (settings.LOCAL_DEMO and _loopback_only()):
        return []
    return [
        checks.Error(
            "SANDBOX_ENABLED is on and DJANGO_DEBUG is off: channels without credentials go to the "
            "sandbox, whose cashier page pays any order.",
            hint="Unset SANDBOX_ENABLED (it is for development, tests and the local demo only).",
            id="project.E005",
        )
    ]


@checks.register(checks.Tags.security)
def local_demo_on_a_real_host(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The local demo turns HTTPS and secure cookies off by default: never for a real domain."""
    if settings.DEBUG or not settings.LOCAL_DEMO or _loopback_only():
        return []
    return [
        checks.Error(
            "WALLET_LOCAL_DEMO is on while DJANGO_ALLOWED_HOSTS names hosts beyond this machine: "
            f"{', '.join(sorted(set(settings.ALLOWED_HOSTS) - LOOPBACK_HOSTS))}.",
            hint="Unset WALLET_LOCAL_DEMO (it is for `make run` on loopback only).",
            id="project.E007",
        )
    ]


@checks.register(checks.Tags.security)
def wildcard_allowed_hosts(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A wildcard host lets any Host header through, and Django builds absolute URLs (password
    reset links, redirects) from it."""
    if settings.DEBUG or "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        checks.Error(
            "DJANGO_ALLOWED_HOSTS holds '*' and DJANGO_DEBUG is off: any Host header is accepted.",
            hint="List the host names this deployment serves in DJANGO_ALLOWED_HOSTS.",
            id="project.E006",
        )
    ]


# The most wrong guesses a sign-in or a payment password may allow before it locks: above it, one
# environment variable would have switched the lock off in all but name.
MAX_WRONG_TRIES = 10


@checks.register(checks.Tags.security)
def loose_locks(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The staff lockout and the payment password's lock must lock: at most ``MAX_WRONG_TRIES``
    wrong tries, and a lock that lasts."""
    if settings.DEBUG:
        return []
    loose = []
    if not 0 < settings.AXES_FAILURE_LIMIT <= MAX_WRONG_TRIES or settings.AXES_COOLOFF_TIME.total_seconds() <= 0:
        loose.append("STAFF_LOCKOUT_FAILURES / STAFF_LOCKOUT_MINUTES")
    if not 0 < settings.PAYMENT_PASSWORD_MAX_TRIES <= MAX_WRONG_TRIES or settings.PAYMENT_PASSWORD_LOCK_SECONDS <= 0:
        loose.append("PAYMENT_PASSWORD_MAX_TRIES / PAYMENT_PASSWORD_LOCK_SECONDS")
    return [
        checks.Error(
            f"{names}: a lock needs 1 to {MAX_WRONG_TRIES} wrong tries and a positive duration.",
            hint="Set them within those bounds, or leave the defaults (5 tries, 30 minutes).",
            id="project.E008",
        )
        for names in loose
    ]


def refuse_unsafe_start() -> None:
    """Raise ``SystemCheckError`` (the process does not start) when a security check errs."""
    serious = [message for message in checks.run_checks(tags=[checks.Tags.security]) if message.is_serious()]
    if serious:
        style = no_style()
        lines = "\n".join(style.ERROR(str(message)) for message in serious)
        raise SystemCheckError(f"The settings are not safe to start with:\n{lines}")


# `check` reports every problem itself (and is how one finds them); `help` and `version` touch
# nothing. Every other command, `shell` and `--skip-checks` included, could read or change data.
COMMANDS_ALLOWED_UNSAFE = frozenset({"check", "help", "version", "--help", "-h", "--version"})


def refuse_unsafe_command(argv: Sequence[str]) -> None:
    """The refusal of ``manage.py``: Django skips the checks for some commands (``shell``,
    ``dbshell``) and for ``--skip-checks``, and those are the ones that reach the data."""
    command = argv[1] if len(argv) > 1 else "help"
    if command in COMMANDS_ALLOWED_UNSAFE:
        return
    django.setup()
    try:
        refuse_unsafe_start()
    except SystemCheckError as unsafe:
        raise SystemExit(str(unsafe)) from unsafe


@checks.register(checks.Tags.security)
def webhook_private_urls(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Webhooks to private addresses are for tests and the local demo: outside DEBUG they would let
    a merchant's notify URL reach the internal network (docs/WEBHOOKS.md, "The URL rule")."""
    if settings.DEBUG or not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return []
    return [
        checks.Error(
            "WEBHOOK_ALLOW_PRIVATE_URLS is on and DJANGO_DEBUG is off: "
            "webhooks could be sent into the internal network.",
            hint="Unset WEBHOOK_ALLOW_PRIVATE_URLS (it is for tests and the local demo only).",
            id="project.E101",
        )
    ]
