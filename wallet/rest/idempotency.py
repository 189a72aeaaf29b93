"""The ``Idempotency-Key`` mechanism for money-moving POSTs (docs/ARCHITECTURE.md §9).

The effect and the stored response commit in one transaction: a stored record means the
effect happened. The same key and body get the first response again; the same key with
another body gets 409 ``idempotency_conflict``. Two concurrent requests with one key cannot
both take effect: the second one's record insert waits on the unique index for the first to
commit, fails, rolls its own effect back and replays the first response. Errors are not
stored (their transaction rolled back), so a client may retry a refused request.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from wallet import errors
from wallet.idempotency import HEADER, KEY_SCHEMA, MAX_KEY_LENGTH, idempotency_key_normalise
from wallet.models import IdempotencyRecord
from wallet.rest.users import request_user

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


class _KeyTakenMeanwhile(Exception):
    """Another request with this key committed while this one ran."""


def request_idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key, or a 400. Views whose service keeps its own replay
    (withdrawals, payments, refunds) read it here too, before validating the body."""
    return idempotency_key_normalise(request.headers.get(HEADER))


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per (user, Idempotency-Key); replay its response afterwards."""
    key = request_idempotency_key(request)
    fingerprint = _fingerprint(request)
    replay = _replay(request, key, fingerprint)
    if replay is not None:
        return replay
    try:
        with transaction.atomic(durable=True):
            response = handler()
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        user=request_user(request),
                        key=key,
                        fingerprint=fingerprint,
                        response_status=response.status_code,
                        response_body=response.data,
                    )
            except IntegrityError as exc:
                raise _KeyTakenMeanwhile from exc
    except _KeyTakenMeanwhile:
        replay = _replay(request, key, fingerprint)
        if replay is None:
            raise
        return replay
    return response


def _replay(request: Request, key: str, fingerprint: str) -> Response | None:
    record = IdempotencyRecord.objects.filter(user=request_user(request), key=key).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise errors.IdempotencyConflict(
            f"The {HEADER} {key!r} was already used for a different request.", fields={HEADER: "reused"}
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()
