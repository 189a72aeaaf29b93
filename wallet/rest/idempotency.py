"""The ``Idempotency-Key`` header of money-moving POSTs (docs/ARCHITECTURE.md §9): how the API
reads it and how the schema declares it. The replay itself is each service's: the key is
unique per caller on the object the request makes (``wallet.idempotency.idempotent_replay``),
so the effect and its key commit together, and the same key and body give the first object
again while another body is a 409 ``idempotency_conflict``.
"""

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from wallet.idempotency import HEADER, KEY_SCHEMA, MAX_KEY_LENGTH, idempotency_key_normalise

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    location=OpenApiParameter.HEADER,
    required=True,
    type=KEY_SCHEMA,
    description=(
        f"Unique per request you mean to make once, among your own requests: 1 to {MAX_KEY_LENGTH} visible "
        "ASCII characters. Retry with the same key and body to get the first answer again."
    ),
)


def request_idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key, or a 400, read before the body is validated."""
    return idempotency_key_normalise(request.headers.get(HEADER))
