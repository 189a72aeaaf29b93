"""Receive codes API: a user's payment QR (docs/WALLET.md)."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors, qr
from wallet.models import ReceiveCode
from wallet.rest.fields import MoneyField
from wallet.rest.inputs import StrictBooleanField, StrictCharField, StrictIntegerField
from wallet.rest.pagination import NewestFirstCursorPagination
from wallet.rest.schema import NamedChoiceField, api_schema
from wallet.rest.users import request_user
from wallet.transfers import codes, selectors, services


class ReceiveCodeStatus:
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"
    CHOICES = (ACTIVE, EXPIRED, REVOKED, USED)


@extend_schema_serializer(component_name="ReceiveCode")
class ReceiveCodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = MoneyField(allow_null=True, help_text="Fixed amount; null when the payer chooses it.")
    memo = serializers.CharField(help_text="Shown to the payer; empty when none.")
    single_use = serializers.BooleanField()
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    token = serializers.SerializerMethodField(
        help_text="What the QR holds: a payer sends it as `receive_code` to POST /api/v1/transfers/."
    )

    @extend_schema_field(NamedChoiceField(enum_name="ReceiveCodeStatus", choices=ReceiveCodeStatus.CHOICES))
    def get_status(self, code: ReceiveCode) -> str:
        if code.revoked_at is not None:
            return ReceiveCodeStatus.REVOKED
        if code.single_use and code.used:  # type: ignore[attr-defined]
            return ReceiveCodeStatus.USED
        if timezone.now() >= code.expires_at:
            return ReceiveCodeStatus.EXPIRED
        return ReceiveCodeStatus.ACTIVE

    def get_token(self, code: ReceiveCode) -> str:
        return codes.token_for(code)


@extend_schema_serializer(component_name="ReceiveCodeWithQr")
class ReceiveCodeWithQrSerializer(ReceiveCodeSerializer):
    qr_code_svg = serializers.SerializerMethodField(help_text="The token as a QR code, an SVG data URI.")
    qr_code_png = serializers.SerializerMethodField(help_text="The token as a QR code, a PNG data URI.")

    def get_qr_code_svg(self, code: ReceiveCode) -> str:
        return qr.qr_data_uris(codes.token_for(code))[0]

    def get_qr_code_png(self, code: ReceiveCode) -> str:
        return qr.qr_data_uris(codes.token_for(code))[1]


class ReceiveCodePagination(NewestFirstCursorPagination):
    page_size = 50
    max_page_size = 200


class ReceiveCodeListCreateApi(APIView):
    pagination_class = ReceiveCodePagination

    @extend_schema_serializer(component_name="ReceiveCodeCreateInput")
    class InputSerializer(serializers.Serializer):
        amount = MoneyField(required=False, help_text="A fixed amount; leave it out for an open code.")
        memo = StrictCharField(max_length=255, required=False, allow_blank=True, default="")
        single_use = StrictBooleanField(help_text="Paid once, then used up; else paid any number of times.")
        expires_in = StrictIntegerField(
            required=False,
            min_value=int(codes.MIN_EXPIRY.total_seconds()),
            max_value=int(codes.MAX_EXPIRY.total_seconds()),
            help_text=f"Seconds the code lives: {int(codes.DEFAULT_EXPIRY_FIXED.total_seconds())} for a fixed code "
            f"and {int(codes.DEFAULT_EXPIRY_OPEN.total_seconds())} for an open one unless given.",
        )

    @api_schema(
        responses={200: ReceiveCodeSerializer(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        summary="Your receive codes, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.receive_codes_of(owner=request_user(request)), request, view=self)
        return paginator.get_paginated_response(ReceiveCodeSerializer(page, many=True).data)

    @api_schema(
        request=InputSerializer,
        responses={201: ReceiveCodeWithQrSerializer},
        errors=[errors.ValidationFailed, exceptions.PermissionDenied, exceptions.UnsupportedMediaType],
        summary="Create a receive code (a payment QR)",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        code = services.receive_code_create(
            owner=request_user(request),
            amount=data.get("amount"),
            memo=data["memo"],
            single_use=data["single_use"],
            expires_in=timedelta(seconds=data["expires_in"]) if "expires_in" in data else None,
        )
        created = selectors.receive_code_of(owner=request_user(request), code_id=code.pk)
        return Response(ReceiveCodeWithQrSerializer(created).data, status=status.HTTP_201_CREATED)


class ReceiveCodeDetailApi(APIView):
    @api_schema(responses={200: ReceiveCodeWithQrSerializer}, errors=[errors.NotFound], summary="One of your codes")
    def get(self, request: Request, code_id: int) -> Response:
        code = selectors.receive_code_of(owner=request_user(request), code_id=code_id)
        if code is None:
            raise errors.NotFound(_("No such receive code."))
        return Response(ReceiveCodeWithQrSerializer(code).data)


class ReceiveCodeRevokeApi(APIView):
    @api_schema(
        request=None,
        responses={200: ReceiveCodeSerializer},
        errors=[errors.NotFound, exceptions.PermissionDenied],
        summary="Revoke one of your codes; again changes nothing",
    )
    def post(self, request: Request, code_id: int) -> Response:
        user = request_user(request)
        code = selectors.receive_code_of(owner=user, code_id=code_id)
        if code is None:
            raise errors.NotFound(_("No such receive code."))
        services.receive_code_revoke(code=code, actor=user)
        return Response(ReceiveCodeSerializer(selectors.receive_code_of(owner=user, code_id=code_id)).data)
