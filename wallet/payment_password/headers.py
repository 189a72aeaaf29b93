"""The payment password on money-leaving POSTs (docs/WALLET.md, "Payment password"): the headers
that carry it, how a view checks them, and how the schema declares them.

A retry with an Idempotency-Key already used by the caller is answered by the idempotency layer
without asking again: it moves no money (the same object comes back, or a 409 for another body),
so a token spent on the first try does not make the retry fail.
"""

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from wallet.payment_password import services
from wallet.payment_password.errors import (
    PaymentPasswordInvalid,
    PaymentPasswordLocked,
    PaymentPasswordNotSet,
    PaymentPasswordRequired,
)
from wallet.rest.users import request_user

PASSWORD_HEADER = "Payment-Password"  # noqa: S105 - a header name
TOKEN_HEADER = "Payment-Token"  # noqa: S105 - a header name

PAYMENT_PASSWORD_PARAMETERS = [
    OpenApiParameter(
        name=PASSWORD_HEADER,
        location=OpenApiParameter.HEADER,
        type={"type": "string"},
        description=f"Your payment password; or send `{TOKEN_HEADER}`. Not needed on a retry with an "
        "Idempotency-Key you used before.",
    ),
    OpenApiParameter(
        name=TOKEN_HEADER,
        location=OpenApiParameter.HEADER,
        type={"type": "string"},
        description="A one-time token from POST /api/v1/wallet/payment-password/token/, instead of the password; "
        "spent by this request.",
    ),
]
PAYMENT_PASSWORD_ERRORS = [
    PaymentPasswordRequired,
    PaymentPasswordInvalid,
    PaymentPasswordLocked,
    PaymentPasswordNotSet,
]


def request_payment_authorise(request: Request, *, replay: bool) -> None:
    """Check the request's payment token or password, unless it is a ``replay`` of the caller's."""
    if replay:
        return
    user = request_user(request)
    if token := request.headers.get(TOKEN_HEADER):
        services.payment_token_consume(user=user, token=token)
    elif password := request.headers.get(PASSWORD_HEADER):
        services.payment_password_verify(user=user, password=password)
    else:
        raise PaymentPasswordRequired()
