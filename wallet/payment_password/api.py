"""Payment password API (docs/WALLET.md, "Payment password"): see it, set or change it, and
trade it for a one-time payment token."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors
from wallet.payment_password import selectors, services
from wallet.payment_password.errors import PaymentPasswordInvalid, PaymentPasswordLocked, PaymentPasswordNotSet
from wallet.rest.inputs import StrictCharField
from wallet.rest.schema import NOT_BLANK, api_schema
from wallet.rest.users import request_user

# The services check the form too; as a validator it is also in the schema (``pattern``).
_FORM = RegexValidator(
    settings.PAYMENT_PASSWORD_PATTERN, message=_("The new payment password does not have the required form (6 digits).")
)


@extend_schema_serializer(component_name="PaymentPasswordState")
class StateOutput(serializers.Serializer):
    is_set = serializers.BooleanField()
    is_locked = serializers.BooleanField(help_text="Too many wrong tries: refused until `locked_until`.")
    locked_until = serializers.DateTimeField(allow_null=True)


class PaymentPasswordApi(APIView):
    @extend_schema_serializer(component_name="PaymentPasswordSetInput")
    class InputSerializer(serializers.Serializer):
        new_password = StrictCharField(max_length=128, validators=[_FORM], help_text="6 digits.")
        account_password = StrictCharField(
            max_length=128,
            required=False,
            allow_blank=True,
            default="",
            help_text="Your account password; or `old_payment_password`.",
        )
        old_payment_password = StrictCharField(
            max_length=128,
            required=False,
            allow_blank=True,
            default="",
            help_text="Your payment password now, once one is set.",
        )

    @api_schema(responses={200: StateOutput}, summary="Whether you have a payment password, and whether it is locked")
    def get(self, request: Request) -> Response:
        return Response(StateOutput(selectors.payment_password_state(user=request_user(request))).data)

    @api_schema(
        request=InputSerializer,
        responses={200: StateOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            exceptions.UnsupportedMediaType,
            PaymentPasswordInvalid,
            PaymentPasswordLocked,
            PaymentPasswordNotSet,
        ],
        summary="Set or change your payment password",
        description=(
            "Proved by your account password (`account_password`: invalid is a validation_error), or by the "
            "payment password you have now (`old_payment_password`: a wrong one counts as a wrong try)."
        ),
    )
    def put(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request_user(request)
        services.payment_password_set(user=user, **serializer.validated_data)
        return Response(StateOutput(selectors.payment_password_state(user=user)).data)


class PaymentTokenApi(APIView):
    @extend_schema_serializer(component_name="PaymentTokenInput")
    class InputSerializer(serializers.Serializer):
        password = StrictCharField(max_length=128, validators=[NOT_BLANK], help_text="Your payment password.")

    @extend_schema_serializer(component_name="PaymentToken")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send it as `Payment-Token` on one withdrawal, transfer or red packet.")
        expires_at = serializers.DateTimeField()

    @api_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            exceptions.UnsupportedMediaType,
            PaymentPasswordInvalid,
            PaymentPasswordLocked,
            PaymentPasswordNotSet,
        ],
        summary="A one-time payment token, for the payment password",
        description="Good for one request within a few minutes; a second use is `payment_password_invalid`.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.payment_token_issue(
            user=request_user(request), password=serializer.validated_data["password"]
        )
        return Response(self.OutputSerializer(issued).data, status=status.HTTP_201_CREATED)
