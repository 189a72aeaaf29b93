"""Payout accounts and withdrawals API (docs/ARCHITECTURE.md §9): a user only ever sees their own objects."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import identifiers
from payments.channels.models import PayoutAccountKind
from payments.withdrawals import selectors, services
from payments.withdrawals.filters import WithdrawalFilter
from payments.withdrawals.models import Withdrawal
from payments.withdrawals.reasons import WITHDRAWAL_STATUS
from wallet import errors
from wallet.payment_password.headers import (
    PAYMENT_PASSWORD_ERRORS,
    PAYMENT_PASSWORD_PARAMETERS,
    request_payment_authorise,
)
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.idempotency import IDEMPOTENCY_KEY_PARAMETER, request_idempotency_key
from wallet.rest.inputs import StrictCharField
from wallet.rest.pagination import NewestFirstCursorPagination
from wallet.rest.reasons import StatusCodeField, StatusMessageField
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NOT_BLANK, api_schema
from wallet.rest.throttles import UserRateThrottle
from wallet.rest.users import request_user


class WithdrawalSubmitThrottle(UserRateThrottle):
    scope = "withdrawal_submit"


@extend_schema_serializer(component_name="PayoutAccount")
class PayoutAccountOutput(serializers.Serializer):
    """Masked only: the sealed identifiers never leave the server."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PayoutAccountKind.choices)
    display = serializers.CharField(
        help_text="Masked card number with its bank, masked openid, or masked Alipay login id "
        "(138****5678, a***@example.com)."
    )
    bank_code = serializers.CharField(help_text="Empty but for a bank card.")
    holder_name = serializers.CharField(
        source="masked_holder", help_text="Masked card holder or Alipay real name; empty for a WeChat openid."
    )
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Withdrawal")
class WithdrawalOutput(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.ChoiceField(choices=Withdrawal.Status.choices)
    amount = SignedMoneyField()
    fee = SignedMoneyField()
    actual_amount = SignedMoneyField(help_text="What reaches the payout account: amount minus fee.")
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    channel = serializers.CharField(source="channel.code", help_text="The payout channel chosen at submission.")
    payout_account = PayoutAccountOutput()
    status_code = StatusCodeField(catalogue=WITHDRAWAL_STATUS, enum_name="WithdrawalStatusCode")
    status_message = StatusMessageField(catalogue=WITHDRAWAL_STATUS)
    status_reason = serializers.CharField(
        help_text="The reason staff or the channel gave for a rejection, cancellation or failure, as given; "
        "empty otherwise. Show `status_message` to users."
    )
    created_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(
        allow_null=True, help_text="When risk control or finance approved it; null before (and if never)."
    )
    finished_at = serializers.DateTimeField(
        allow_null=True, help_text="When it reached a final status; null while it is in progress."
    )


# What the services check (payments.identifiers), so that the schema says it too.
_OPENID = RegexValidator(r"^\s*[A-Za-z0-9_-]{6,64}\s*$", message=_("An openid is 6 to 64 letters, digits, '_' or '-'."))
_CARD_NUMBER = RegexValidator(r"^[\s-]*([0-9][\s-]*){12,19}$", message=_("A card number has 12 to 19 digits."))
_BANK_CODE = RegexValidator(r"^\s*[A-Za-z]{2,10}\s*$", message=_("A bank code is 2 to 10 letters, such as ICBC."))


@extend_schema_serializer(component_name="WechatOpenidBindInput")
class _WechatOpenidBindInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[PayoutAccountKind.WECHAT_OPENID.value])
    openid = StrictCharField(max_length=64, validators=[_OPENID])


@extend_schema_serializer(component_name="BankCardBindInput")
class _BankCardBindInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[PayoutAccountKind.BANK_CARD.value])
    card_number = StrictCharField(
        max_length=32, validators=[_CARD_NUMBER], help_text="Spaces and dashes are ignored; the check digit must hold."
    )
    holder_name = StrictCharField(max_length=64, validators=[NOT_BLANK])
    bank_code = StrictCharField(max_length=16, validators=[_BANK_CODE])


@extend_schema_serializer(component_name="AlipayBindInput")
class _AlipayBindInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[PayoutAccountKind.ALIPAY.value])
    login_id = StrictCharField(
        max_length=identifiers.ALIPAY_LOGIN_MAX_LENGTH,
        validators=[NOT_BLANK],
        help_text="A mainland mobile number (13800138000, +86 allowed) or an email address.",
    )
    real_name = StrictCharField(
        max_length=identifiers.REAL_NAME_MAX_LENGTH,
        validators=[NOT_BLANK],
        help_text="The account holder's real name as Alipay registered it: Alipay refuses a transfer when it differs.",
    )


class PayoutAccountsApi(APIView):
    class InputSerializer(serializers.Serializer):
        """Takes the fields of both kinds; the services check those of the kind given (the
        schema says so: ``PayoutAccountBindInputExtension``)."""

        kind = serializers.ChoiceField(choices=PayoutAccountKind.choices)
        openid = StrictCharField(required=False, allow_blank=True, default="", max_length=64)
        card_number = StrictCharField(required=False, allow_blank=True, default="", max_length=32)
        holder_name = StrictCharField(required=False, allow_blank=True, default="", max_length=64)
        bank_code = StrictCharField(required=False, allow_blank=True, default="", max_length=16)
        login_id = StrictCharField(
            required=False, allow_blank=True, default="", max_length=identifiers.ALIPAY_LOGIN_MAX_LENGTH
        )
        real_name = StrictCharField(
            required=False, allow_blank=True, default="", max_length=identifiers.REAL_NAME_MAX_LENGTH
        )

    @api_schema(responses={200: PayoutAccountOutput(many=True)}, summary="Your payout accounts, masked")
    def get(self, request: Request) -> Response:
        accounts = selectors.payout_accounts_for_user(user=request_user(request))
        return Response(PayoutAccountOutput(accounts, many=True).data)

    @api_schema(
        request=InputSerializer,
        responses={201: PayoutAccountOutput, 200: PayoutAccountOutput},
        errors=[errors.ValidationFailed, exceptions.PermissionDenied, exceptions.UnsupportedMediaType],
        summary="Bind a WeChat openid, a bank card or an Alipay account (201; 200 when it was bound already)",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account, created = services.payout_account_bind(user=request_user(request), **serializer.validated_data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PayoutAccountOutput(account).data, status=code)


class PayoutAccountBindInputExtension(OpenApiSerializerExtension):
    """The bind input in the schema: the fields of one kind or the other, chosen by ``kind``."""

    target_class = PayoutAccountsApi.InputSerializer

    def get_name(self, auto_schema, direction) -> str:
        return "PayoutAccountBindInput"

    def map_serializer(self, auto_schema, direction) -> dict:
        branches = {
            PayoutAccountKind.WECHAT_OPENID.value: _WechatOpenidBindInput,
            PayoutAccountKind.BANK_CARD.value: _BankCardBindInput,
            PayoutAccountKind.ALIPAY.value: _AlipayBindInput,
        }
        refs = {kind: auto_schema.resolve_serializer(branch, direction).ref for kind, branch in branches.items()}
        return {
            "required": ["kind"],
            "oneOf": list(refs.values()),
            "discriminator": {"propertyName": "kind", "mapping": {kind: ref["$ref"] for kind, ref in refs.items()}},
        }


class WithdrawalPagination(NewestFirstCursorPagination):
    page_size = 20
    max_page_size = 100


# A blank date filter is no filter, as a form sends it.
_DATE_OR_BLANK = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}


class WithdrawalsApi(APIView):
    """List (GET) and submit (POST) on one collection URL."""

    # APIView does not paginate by itself; get() uses it, and the schema reads it from here.
    pagination_class = WithdrawalPagination

    @extend_schema_serializer(component_name="WithdrawalSubmitInput")
    class InputSerializer(serializers.Serializer):
        payout_account = serializers.IntegerField(min_value=1, help_text="Id of one of your payout accounts.")
        amount = MoneyField()

    def get_throttles(self):
        return [WithdrawalSubmitThrottle()] if self.request.method == "POST" else []

    @api_schema(
        responses={200: WithdrawalOutput(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        parameters=[
            OpenApiParameter("status", str, many=True, enum=Withdrawal.Status.values, description="Any of these."),
            OpenApiParameter("created_from", _DATE_OR_BLANK, description="First local date, inclusive."),
            OpenApiParameter("created_to", _DATE_OR_BLANK, description="Last local date, inclusive."),
        ],
        summary="Your withdrawals, newest first",
    )
    def get(self, request: Request) -> Response:
        # The approvals tell a four-eyes order's status code (payments.withdrawals.reasons).
        own = selectors.withdrawals_for_user(user=request_user(request)).prefetch_related("approvals")
        filters = WithdrawalFilter(request.query_params, queryset=own)
        if not filters.is_valid():
            raise errors.ValidationFailed(
                _("The filters are not valid."),
                fields={name: str(messages[0]) for name, messages in filters.errors.items()},
            )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filters.qs, request, view=self)
        return paginator.get_paginated_response(WithdrawalOutput(page, many=True).data)

    @api_schema(
        request=InputSerializer,
        responses={201: WithdrawalOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.InsufficientFunds,
            errors.AccountFrozen,
            errors.RiskRejected,
            errors.LimitExceeded,
            errors.WindowClosed,
            errors.NotAvailable,
            errors.NoChannel,
            exceptions.Throttled,
            *PAYMENT_PASSWORD_ERRORS,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, *PAYMENT_PASSWORD_PARAMETERS, IDEMPOTENT_REPLAYED],
        summary="Withdraw to one of your payout accounts",
        description=(
            "Holds the amount at once. Risk rules approve it, send it to finance review, or refuse it "
            "(limit_exceeded, risk_rejected, window_closed, not_available; 422). A payout account that is "
            "not yours, or an amount not above the fee, is a validation_error. Retrying with the same "
            "Idempotency-Key and body returns the same order with `Idempotent-Replayed: true`. Needs your "
            "payment password or a payment token (403 `payment_password_*` otherwise), but not on such a retry."
        ),
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        key = request_idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        request_payment_authorise(request, replay=Withdrawal.objects.filter(user=user, idempotency_key=key).exists())
        payout_account = selectors.payout_account_for_user(
            user=user, payout_account_id=serializer.validated_data["payout_account"]
        )
        if payout_account is None:
            raise errors.ValidationFailed(_("No such payout account."), fields={"payout_account": "not_found"})
        submission = services.withdrawal_submit(
            user=user, payout_account=payout_account, amount=serializer.validated_data["amount"], idempotency_key=key
        )
        response = Response(WithdrawalOutput(submission.withdrawal).data, status=status.HTTP_201_CREATED)
        if not submission.created:
            response["Idempotent-Replayed"] = "true"
        return response


class WithdrawalDetailApi(APIView):
    @api_schema(responses={200: WithdrawalOutput}, errors=[errors.NotFound], summary="One of your withdrawals")
    def get(self, request: Request, order_no: str) -> Response:
        return Response(WithdrawalOutput(_own_withdrawal(request, order_no)).data)


class WithdrawalCancelApi(APIView):
    @extend_schema_serializer(component_name="WithdrawalCancelInput")
    class InputSerializer(serializers.Serializer):
        reason = StrictCharField(required=False, allow_blank=True, default="", max_length=500)

    @api_schema(
        request=InputSerializer,
        responses={200: WithdrawalOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.NotFound,
            errors.Conflict,
            exceptions.UnsupportedMediaType,
        ],
        summary="Cancel a withdrawal before it is dispatched (a second cancel is a no-op)",
        description="conflict (409) once it is dispatched or finished otherwise.",
    )
    def post(self, request: Request, order_no: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        withdrawal = services.withdrawal_cancel(
            withdrawal=_own_withdrawal(request, order_no),
            actor=request_user(request),
            reason=serializer.validated_data["reason"],
        )
        return Response(WithdrawalOutput(withdrawal).data)


def _own_withdrawal(request: Request, order_no: str) -> Withdrawal:
    withdrawal = selectors.withdrawal_for_user(user=request_user(request), order_no=order_no)
    if withdrawal is None:
        raise errors.NotFound(_("No such withdrawal."))
    return withdrawal
