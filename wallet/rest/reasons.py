"""The ``status_code`` and ``status_message`` fields of an order's output, from its kind's
``wallet.reasons.StatusCatalogue``: the code is an enum in the schema, the message is in the
request's language."""

from typing import Any

from rest_framework import serializers

from wallet.reasons import StatusCatalogue
from wallet.rest.schema import NamedChoiceField


class StatusCodeField(NamedChoiceField):
    def __init__(self, *, catalogue: StatusCatalogue, enum_name: str, **kwargs: Any) -> None:
        self.catalogue = catalogue
        kwargs.setdefault("help_text", "Why it is in its status, stable: decide on it, never on `status_message`.")
        choices = list(catalogue.messages.items())
        super().__init__(choices=choices, enum_name=enum_name, source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return self.catalogue.code_of(value)


class StatusMessageField(serializers.CharField):
    def __init__(self, *, catalogue: StatusCatalogue, **kwargs: Any) -> None:
        self.catalogue = catalogue
        kwargs.setdefault("help_text", "What `status_code` means, to show the user; in the request's language.")
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return self.catalogue.message(value)
