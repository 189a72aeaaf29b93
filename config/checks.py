"""Unsafe production settings refuse to start.

Outside DEBUG, a secret left at its published development value (or not set, which is the same)
is a system check error: ``manage.py`` commands stop on it, and gunicorn (config.wsgi) and the
Celery worker and beat (config.celery) run the same checks before they serve anything.
"""

from django.conf import settings
from django.core import checks
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


def refuse_unsafe_start() -> None:
    """Raise ``SystemCheckError`` (the process does not start) when a security check errs."""
    serious = [message for message in checks.run_checks(tags=[checks.Tags.security]) if message.is_serious()]
    if serious:
        style = no_style()
        lines = "\n".join(style.ERROR(str(message)) for message in serious)
        raise SystemCheckError(f"The settings are not safe to start with:\n{lines}")


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
