"""System checks of the sandbox: a warning whenever it is on outside DEBUG."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def sandbox_outside_debug(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The sandbox pays whatever its cashier page is asked to: channels without credentials that
    go to it must never face real users."""
    if settings.SANDBOX_ENABLED and not settings.DEBUG:
        return [
            checks.Warning(
                "SANDBOX_ENABLED is on: channels without credentials go to the sandbox, whose cashier "
                "page pays any order. Only for development, tests and the demo.",
                id="payments.W001",
            )
        ]
    return []
