"""Project configuration: settings, URLs, the Celery app and the process launchers."""

from .celery import app as celery_app

__all__ = ("celery_app",)
