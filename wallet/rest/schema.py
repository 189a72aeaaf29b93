"""What the OpenAPI schema says about errors: the envelope, and the statuses each operation answers.

Each operation names the errors it can raise, as the classes it raises (``wallet.errors`` or
DRF's), so the documented status and code come from the same place as the real ones;
``api_schema`` adds them, and the headers that come with them, to ``extend_schema``.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers

from wallet import errors
from wallet.rest.errors import DRF_CODES

ErrorKind = type[errors.ApplicationError] | type[exceptions.APIException]

# What each status means here; the codes that go with it are listed after it.
_STATUS_MEANING = {
    400: "The request is not valid; `error.fields` names each field that is wrong and why.",
    401: "No valid credentials: send `Authorization: Token <key>`.",
    403: "Not allowed (a session-authenticated write also needs its CSRF token).",
    404: "No such object among yours.",
    409: "The object is not in a state that allows this, or the Idempotency-Key was used for another request.",
    415: "The body is of a media type this operation does not take.",
    422: "Well-formed, but refused by a business rule.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    503: "The payment channel did not answer: retry later with the same Idempotency-Key.",
}

# A required text field refuses blanks after trimming; as a validator it puts that in the schema
# (``pattern``), where a bare ``CharField`` says only "a string".
NOT_BLANK = RegexValidator(r"\S", message=_("This field may not be blank."))

IDEMPOTENT_REPLAYED = OpenApiParameter(
    name="Idempotent-Replayed",
    location=OpenApiParameter.HEADER,
    response=[201],
    type={"type": "string", "enum": ["true"]},
    description="Present when this is the first response again, for a retry with the same Idempotency-Key and body.",
)
_ERROR_HEADERS = [
    OpenApiParameter(
        name="WWW-Authenticate",
        location=OpenApiParameter.HEADER,
        response=[401],
        type=OpenApiTypes.STR,
        required=True,
        description="`Token`: how to authenticate.",
    ),
    OpenApiParameter(
        name="Retry-After",
        location=OpenApiParameter.HEADER,
        response=[429],
        type={"type": "string", "pattern": r"^\d+$"},
        required=True,
        description="Seconds to wait before the next request.",
    ),
]


class ErrorEnvelope(serializers.Serializer):
    """Documentation only: the body of every error (``wallet.rest.errors.error_body``)."""


class ErrorEnvelopeExtension(OpenApiSerializerExtension):
    """A raw schema: a serializer cannot declare a field named ``fields``."""

    target_class = ErrorEnvelope

    def get_name(self, auto_schema, direction) -> str:
        return "Error"

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "fields"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "enum": error_codes(),
                            "description": "Stable: clients decide on it, never on the message.",
                        },
                        "message": {"type": "string", "description": "For people; may change."},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "What is wrong with each field (nested ones dotted), or facts about "
                            "the refusal such as `refundable`; empty when there are none.",
                        },
                    },
                }
            },
        }


class NamedChoiceField(serializers.ChoiceField):
    """A ChoiceField whose enum is the schema component ``enum_name``. drf-spectacular names
    enums after their field, and warns when one name ("method") takes two choice sets."""

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True  # wallet.rest.reasons.StatusCodeField

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        schema = build_choice_field(self.target)
        schema.pop("x-spec-enum-id")
        component = ResolvedComponent(
            name=self.target.enum_name, type=ResolvedComponent.SCHEMA, object=self.target.enum_name, schema=schema
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def error_codes() -> list[str]:
    """Every code the exception handler can answer."""
    codes = {code for _, code in DRF_CODES} | {"error"}
    pending: list[type[errors.ApplicationError]] = [errors.ApplicationError]
    while pending:
        kind = pending.pop()
        codes.add(kind.code)
        pending.extend(kind.__subclasses__())
    return sorted(codes)


def error_responses(kinds: Sequence[ErrorKind]) -> dict[int, OpenApiResponse]:
    """``{status: Error response}`` for the errors ``kinds``, each described with its codes."""
    by_status: dict[int, list[str]] = {}
    for kind in kinds:
        status, code = _status_and_code(kind)
        codes = by_status.setdefault(status, [])
        if code not in codes:
            codes.append(code)
    return {
        status: OpenApiResponse(
            ErrorEnvelope,
            description=f"{_STATUS_MEANING[status]} Codes: {', '.join(f'`{code}`' for code in codes)}.",
        )
        for status, codes in sorted(by_status.items())
    }


def api_schema(
    *,
    responses: dict[Any, Any],
    errors: Sequence[ErrorKind] = (),
    parameters: Sequence[OpenApiParameter] = (),
    authenticated: bool = True,
    **kwargs: Any,
) -> Callable:
    """``extend_schema`` with the operation's errors, 401 when it needs a user, and their headers."""
    kinds = [*errors, exceptions.NotAuthenticated] if authenticated else list(errors)
    if not authenticated:
        kwargs["auth"] = []
    return extend_schema(
        responses={**responses, **error_responses(kinds)},
        parameters=[*parameters, *_ERROR_HEADERS],
        **kwargs,
    )


def _status_and_code(kind: ErrorKind) -> tuple[int, str]:
    if issubclass(kind, errors.ApplicationError):
        return kind.status, kind.code
    return kind.status_code, next(code for drf_kind, code in DRF_CODES if issubclass(kind, drf_kind))
