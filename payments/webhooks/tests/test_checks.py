"""Outside DEBUG, no process starts with webhooks to private addresses allowed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import SystemCheckError

from config.checks import refuse_unsafe_start, webhook_private_urls
from config.keys import keys_generate

BASE_DIR = Path(__file__).resolve().parents[3]


def own_secrets(settings) -> None:
    """Production-like settings in every other respect, so only the webhook check can err."""
    keys = keys_generate()
    settings.SECRET_KEY = keys["DJANGO_SECRET_KEY"]
    settings.FIELD_ENCRYPTION_KEYS = keys["FIELD_ENCRYPTION_KEYS"]
    settings.BLIND_INDEX_KEY = keys["BLIND_INDEX_KEY"]
    settings.SANDBOX_ENABLED = False


def test_private_webhook_urls_allowed_outside_debug_stop_the_start(settings):
    own_secrets(settings)
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    assert [message.id for message in webhook_private_urls(None)] == ["project.E101"]
    with pytest.raises(SystemCheckError, match="WEBHOOK_ALLOW_PRIVATE_URLS"):
        refuse_unsafe_start()


def test_private_webhook_urls_are_allowed_in_debug_and_off_is_fine_anywhere(settings):
    own_secrets(settings)
    settings.DEBUG = True
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert webhook_private_urls(None) == []

    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert webhook_private_urls(None) == []
    refuse_unsafe_start()


def test_manage_py_refuses_to_start_with_private_webhook_urls_outside_debug():
    env = os.environ | keys_generate() | {"DJANGO_DEBUG": "false", "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}

    check = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )

    assert check.returncode != 0
    assert "project.E101" in check.stderr
