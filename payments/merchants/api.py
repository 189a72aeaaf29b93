"""The merchant's API (docs/MERCHANTS.md): its server, authenticated as its service account,
creates order payments for its payers, reads them with their refunds and refunds them. Callers
that are no merchant's service account get ``permission_denied``; another merchant's order or
refund is ``not_found``.
"""

from django.core.cache import cache
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.channels.models import ClientType, PaymentMethod
from payments.merchants import selectors, services
from payments.merchants.models import Merchant
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder, Refund
from payments.orders.reasons import PAYMENT_ORDER_STATUS, REFUND_STATUS
from wallet import errors
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.idempotency import IDEMPOTENCY_KEY_PARAMETER, request_idempotency_key
from wallet.rest.inputs import StrictCharField
from wallet.rest.reasons import StatusCodeField, StatusMessageField
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NOT_BLANK, NamedChoiceField, api_schema
from wallet.rest.throttles import UserRateThrottle
from wallet.rest.users import request_user

# An open order read by its merchant is checked with the channel at most this often.
READ_QUERY_SECONDS = 3
WEB_URL = URLValidator(schemes=["http", "https"], message=_("An http or https URL."))


class MerchantPaymentCreateThrottle(UserRateThrottle):
    scope = "merchant_payment_create"


class MerchantRefundThrottle(UserRateThrottle):
    scope = "refund_request"


@extend_schema_serializer(component_name="MerchantRefund")
class RefundOutput(serializers.Serializer):
    refund_no = serializers.CharField()
    order_no = serializers.CharField(source="payment_order.order_no")
    status = NamedChoiceField(choices=Refund.Status.choices, enum_name="MerchantRefundStatus")
    amount = SignedMoneyField()
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    reason = serializers.CharField(help_text="Empty when none was given.")
    failure_code = serializers.CharField(help_text="The channel's code when it failed; empty otherwise.")
    status_code = StatusCodeField(catalogue=REFUND_STATUS, enum_name="RefundStatusCode")
    status_message = StatusMessageField(catalogue=REFUND_STATUS)
    status_reason = serializers.CharField(help_text="Why it failed; empty otherwise.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True, help_text="When it reached a final status; null before.")


@extend_schema_serializer(component_name="MerchantPayment")
class PaymentOutput(serializers.Serializer):
    order_no = serializers.CharField()
    business_order_no = serializers.CharField()
    payer = serializers.CharField(source="user.username", help_text="The username of who pays it.")
    status = NamedChoiceField(choices=PaymentOrder.Status.choices, enum_name="MerchantPaymentStatus")
    amount = SignedMoneyField()
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    subject = serializers.CharField()
    method = NamedChoiceField(
        choices=PaymentMethod.choices,
        enum_name="PaymentOrderMethod",
        allow_blank=True,
        help_text="Empty while `awaiting`: the payer has not chosen how to pay.",
    )
    client_type = serializers.ChoiceField(
        choices=ClientType.choices, allow_blank=True, help_text="Empty while awaiting."
    )
    channel = serializers.CharField(
        source="channel.code", allow_null=True, default=None, help_text="null for a balance payment or while awaiting."
    )
    notify_url = serializers.CharField(help_text="This order's webhook URL; empty: the merchant's own.")
    transaction_id = serializers.CharField(help_text="The channel's number once paid; empty otherwise.")
    refunded_amount = SignedMoneyField(help_text="Refunded so far.")
    status_code = StatusCodeField(catalogue=PAYMENT_ORDER_STATUS, enum_name="PaymentOrderStatusCode")
    status_message = StatusMessageField(catalogue=PAYMENT_ORDER_STATUS)
    status_reason = serializers.CharField(
        help_text="Why it closed, or why the payer's channel refused; empty otherwise."
    )
    expires_at = serializers.DateTimeField(help_text="When an unpaid order closes by itself.")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True, help_text="null until it is paid.")
    finished_at = serializers.DateTimeField(allow_null=True, help_text="When it reached a final status; null before.")
    refunds = RefundOutput(many=True, source="refunds_listed", help_text="Oldest first.")


class MerchantPaymentsApi(APIView):
    @extend_schema_serializer(component_name="MerchantPaymentInput")
    class InputSerializer(serializers.Serializer):
        business_order_no = StrictCharField(max_length=64, validators=[NOT_BLANK], help_text="Your own order number.")
        amount = MoneyField()
        subject = StrictCharField(max_length=128, validators=[NOT_BLANK], help_text="What the payer sees they pay for.")
        payer = StrictCharField(max_length=150, validators=[NOT_BLANK], help_text="The payer's username.")
        expires_in_minutes = serializers.IntegerField(
            required=False,
            min_value=services.MIN_EXPIRY_MINUTES,
            max_value=services.MAX_EXPIRY_MINUTES,
            help_text="How long it waits for the payer; default PAYMENT_ORDER_TTL_MINUTES (30).",
        )
        notify_url = serializers.URLField(
            validators=[WEB_URL],
            required=False,
            allow_blank=True,
            default="",
            max_length=500,
            help_text="Where this order's events go (http or https); default: the merchant's own URL.",
        )

    def get_throttles(self):
        return [MerchantPaymentCreateThrottle()]

    @api_schema(
        request=InputSerializer,
        responses={201: PaymentOutput, 200: PaymentOutput},
        errors=[
            errors.ValidationFailed,
            errors.PermissionDenied,
            errors.Conflict,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            exceptions.Throttled,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED],
        summary="Create the payment of one of your orders for a payer (merchant service accounts only)",
        description=(
            "The order waits for its payer (`awaiting`), who pays it at your amount from their balance or through "
            "a channel, until `expires_at`. One live order (not failed or closed) per `business_order_no`: the "
            "same terms again answer it (200), other terms are a conflict (409) with `fields.order_no`. The same "
            "Idempotency-Key and body answer the first order (201, `Idempotent-Replayed: true`)."
        ),
    )
    def post(self, request: Request) -> Response:
        merchant = _merchant(request)
        key = request_idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        creation = services.merchant_payment_create(merchant=merchant, idempotency_key=key, **serializer.validated_data)
        replayed = not creation.created and creation.order.idempotency_key == key
        response = Response(
            PaymentOutput(_with_refunds(creation.order)).data,
            status=status.HTTP_201_CREATED if creation.created or replayed else status.HTTP_200_OK,
        )
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class MerchantPaymentDetailApi(APIView):
    @api_schema(
        responses={200: PaymentOutput},
        errors=[errors.PermissionDenied, errors.NotFound],
        summary="One of your order payments with its refunds (an open one is checked with the channel)",
    )
    def get(self, request: Request, order_no: str) -> Response:
        order = _own_payment(request, order_no)
        if order.is_open and order.channel_id is not None and _query_due(order.order_no):
            order = payment_orders.payment_order_sync(order=order)
        return Response(PaymentOutput(_with_refunds(order)).data)


class MerchantRefundsApi(APIView):
    @extend_schema_serializer(component_name="MerchantRefundInput")
    class InputSerializer(serializers.Serializer):
        amount = MoneyField()
        reason = StrictCharField(required=False, allow_blank=True, default="", max_length=200)

    def get_throttles(self):
        return [MerchantRefundThrottle()]

    @api_schema(
        request=InputSerializer,
        responses={201: RefundOutput},
        errors=[
            errors.ValidationFailed,
            errors.PermissionDenied,
            errors.NotFound,
            errors.Conflict,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.LimitExceeded,
            errors.InsufficientFunds,
            errors.AccountFrozen,
            exceptions.Throttled,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED],
        summary="Refund part or all of one of your paid order payments",
        description=(
            "To the original channel, or to the payer's wallet for balance payments (then `success` at once). All "
            "refunds not failed together never exceed the paid amount (limit_exceeded, 422, with "
            "`fields.refundable`)."
        ),
    )
    def post(self, request: Request, order_no: str) -> Response:
        merchant = _merchant(request)
        key = request_idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = _own_payment(request, order_no, merchant=merchant)
        creation = refunds.refund_request(
            order=order, actor=request_user(request), idempotency_key=key, **serializer.validated_data
        )
        response = Response(RefundOutput(creation.refund).data, status=status.HTTP_201_CREATED)
        if not creation.created:
            response["Idempotent-Replayed"] = "true"
        return response


class MerchantRefundDetailApi(APIView):
    @api_schema(
        responses={200: RefundOutput},
        errors=[errors.PermissionDenied, errors.NotFound],
        summary="One refund of one of your order payments (a processing one is checked with the channel)",
    )
    def get(self, request: Request, order_no: str, refund_no: str) -> Response:
        refund = selectors.merchant_refund(merchant=_merchant(request), order_no=order_no, refund_no=refund_no)
        if refund is None:
            raise errors.NotFound(_("No such refund."))
        if refund.status == Refund.Status.PROCESSING and _query_due(refund.refund_no):
            refund = refunds.refund_sync(refund=refund)
        return Response(RefundOutput(refund).data)


def _merchant(request: Request) -> Merchant:
    merchant = selectors.merchant_of_user(user=request_user(request))
    if merchant is None:
        raise errors.PermissionDenied(_("Only a merchant's service account may call this."))
    return merchant


def _own_payment(request: Request, order_no: str, *, merchant: Merchant | None = None) -> PaymentOrder:
    order = selectors.merchant_payment(merchant=merchant or _merchant(request), order_no=order_no)
    if order is None:
        raise errors.NotFound(_("No such order."))
    return order


def _with_refunds(order: PaymentOrder) -> PaymentOrder:
    order.refunds_listed = list(selectors.merchant_payment_refunds(order=order))  # type: ignore[attr-defined]
    return order


def _query_due(number: str) -> bool:
    """True at most once per order or refund every ``READ_QUERY_SECONDS`` (the channel's rate)."""
    return cache.add(f"merchants:read-query:{number}", 1, timeout=READ_QUERY_SECONDS)
