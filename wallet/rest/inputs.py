"""Input fields that take what the schema says. DRF's ``CharField`` also turns a JSON number
into text (``{"memo": 5}`` becomes ``"5"``) and checks ``max_length`` after trimming blanks,
where the schema promises a string of at most ``maxLength`` characters as sent."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": _("Not a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: DRF's also takes ``0``, ``"yes"``, ``"on"``..."""

    default_error_messages = {"invalid": _("Not a boolean.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's also takes ``"60"`` and ``60.0``."""

    default_error_messages = {"invalid": _("Not an integer.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
