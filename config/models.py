"""The project's own models live in their packages; Django finds them here."""

from config.controls.models import *  # noqa: F403
