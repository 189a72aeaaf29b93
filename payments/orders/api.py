"""Recharges, order payments and refunds API (docs/ARCHITECTURE.md §9): a user only ever sees their own.

Reading an open order asks the channel first, so a client polling after the payer paid sees
``success`` even when the channel's notify has not arrived; at most once per order every
``READ_QUERY_SECONDS``, so a client polling in a tight loop does not use up the channel's rate.
"""

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.channels.models import METHOD_CLIENT_TYPES, ClientType, PaymentMethod
from payments.orders import refunds, selectors, services
from payments.orders.models import BusinessType, PaymentOrder, Refund
from payments.orders.reasons import PAYMENT_ORDER_STATUS, REFUND_STATUS
from wallet import errors, qr
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.idempotency import IDEMPOTENCY_KEY_PARAMETER, request_idempotency_key
from wallet.rest.inputs import StrictCharField
from wallet.rest.reasons import StatusCodeField, StatusMessageField
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NamedChoiceField, api_schema
from wallet.rest.throttles import UserRateThrottle
from wallet.rest.users import request_user

READ_QUERY_SECONDS = 3
CHANNEL_METHODS = [(value, label) for value, label in PaymentMethod.choices if value != PaymentMethod.BALANCE]
METHOD_HELP = "Each method works from some clients only: " + "; ".join(
    f"{method}: {', '.join(clients)}" for method, clients in METHOD_CLIENT_TYPES.items()
)


class PaymentCreateThrottle(UserRateThrottle):
    scope = "payment_create"


@extend_schema_serializer(component_name="PaymentInstructions")
class PayOutput(serializers.Serializer):
    """What the client needs to pay an order that is ``paying``; only the fields of its method."""

    code_url = serializers.CharField(required=False, help_text="wechat_native: encode as a QR code.")
    qr_code_svg = serializers.CharField(required=False, help_text="wechat_native: the QR code, an SVG data URI.")
    qr_code_png = serializers.CharField(required=False, help_text="wechat_native: the QR code, a PNG data URI.")
    pay_url = serializers.CharField(required=False, help_text="wechat_h5, alipay_page, alipay_wap: open it.")
    app_params = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="wechat_jsapi, wechat_app: pass to the WeChat SDK; alipay_app: order_string for the Alipay SDK.",
    )

    def to_representation(self, instance: PaymentOrder) -> dict:
        if instance.status != PaymentOrder.Status.PAYING:
            return {}
        params = dict(instance.pay_params)
        params.pop("prepay_id", None)
        if params.get("code_url"):
            params["qr_code_svg"], params["qr_code_png"] = qr.qr_data_uris(params["code_url"])
        return params


@extend_schema_serializer(component_name="PaymentMerchant")
class MerchantOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="PaymentOrder")
class PaymentOrderOutput(serializers.Serializer):
    order_no = serializers.CharField()
    business_type = serializers.ChoiceField(choices=BusinessType.choices)
    business_order_no = serializers.CharField(help_text="The business order it pays; empty for a recharge.")
    status = serializers.ChoiceField(choices=PaymentOrder.Status.choices)
    amount = SignedMoneyField()
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    method = NamedChoiceField(
        choices=PaymentMethod.choices,
        enum_name="PaymentOrderMethod",
        allow_blank=True,
        help_text="Empty while `awaiting`: the payer has not chosen how to pay.",
    )
    channel = serializers.CharField(
        source="channel.code", allow_null=True, default=None, help_text="null for a balance payment or while awaiting."
    )
    client_type = serializers.ChoiceField(
        choices=ClientType.choices, allow_blank=True, help_text="Empty while awaiting."
    )
    merchant = MerchantOutput(allow_null=True, help_text="Who is paid; null for a recharge.")
    subject = serializers.CharField()
    refunded_amount = SignedMoneyField(help_text="Refunded so far.")
    status_code = StatusCodeField(catalogue=PAYMENT_ORDER_STATUS, enum_name="PaymentOrderStatusCode")
    status_message = StatusMessageField(catalogue=PAYMENT_ORDER_STATUS)
    status_reason = serializers.CharField(
        help_text="Why it failed or closed, as the channel or the closer gave it; empty otherwise. "
        "Show `status_message` to users."
    )
    pay = PayOutput(source="*")
    expires_at = serializers.DateTimeField(help_text="When an unpaid order closes by itself.")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True, help_text="null until it is paid.")
    finished_at = serializers.DateTimeField(allow_null=True, help_text="When it reached a final status; null before.")


@extend_schema_serializer(component_name="Refund")
class RefundOutput(serializers.Serializer):
    refund_no = serializers.CharField()
    order_no = serializers.CharField(source="payment_order.order_no")
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    amount = SignedMoneyField()
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    reason = serializers.CharField(help_text="Empty when none was given.")
    failure_code = serializers.CharField(help_text="The channel's code when it failed; empty otherwise.")
    status_code = StatusCodeField(catalogue=REFUND_STATUS, enum_name="RefundStatusCode")
    status_message = StatusMessageField(catalogue=REFUND_STATUS)
    status_reason = serializers.CharField(help_text="Why it failed, as the channel gave it; empty otherwise.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True, help_text="When it reached a final status; null before.")


class _ChannelPaymentInput(serializers.Serializer):
    amount = MoneyField()
    client_type = serializers.ChoiceField(choices=ClientType.choices)
    payer_id = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=128,
        help_text="The payer's openid; required for wechat_jsapi.",
    )
    return_url = serializers.URLField(
        required=False, allow_blank=True, default="", max_length=500, help_text="Where the cashier page returns to."
    )


class RechargeCreateApi(APIView):
    @extend_schema_serializer(component_name="RechargeInput")
    class InputSerializer(_ChannelPaymentInput):
        method = NamedChoiceField(choices=CHANNEL_METHODS, enum_name="ChannelPaymentMethod", help_text=METHOD_HELP)

    def get_throttles(self):
        return [PaymentCreateThrottle()]

    @api_schema(
        request=InputSerializer,
        responses={201: PaymentOrderOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.NoChannel,
            exceptions.Throttled,
            errors.ChannelUnavailable,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED],
        summary="Recharge your wallet through WeChat Pay or Alipay",
        description=(
            "Opens the payment at the cheapest channel for the method and client (no_channel, 422, when none "
            "takes it) and returns what the client needs to pay under `pay`. The wallet is credited when the "
            "channel confirms. channel_unavailable (503) when the channel did not answer. A method the client "
            "cannot use (see each method) is a validation_error on `client_type`."
        ),
    )
    def post(self, request: Request) -> Response:
        return _create(request, self.InputSerializer, business_type=BusinessType.RECHARGE)


class PaymentPayApi(APIView):
    """``POST payments/<order_no>/pay/``: the payer pays an order payment their merchant made for
    them. The amount, the merchant and the subject are the merchant's: a body naming any field
    but these is refused (validation_error), never silently ignored."""

    @extend_schema_serializer(component_name="PaymentPayInput")
    class InputSerializer(serializers.Serializer):
        method = NamedChoiceField(choices=PaymentMethod.choices, enum_name="PaymentMethod", help_text=METHOD_HELP)
        client_type = serializers.ChoiceField(choices=ClientType.choices)
        payer_id = StrictCharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=128,
            help_text="The payer's openid; required for wechat_jsapi.",
        )
        return_url = serializers.URLField(
            required=False, allow_blank=True, default="", max_length=500, help_text="Where the cashier page returns to."
        )

        def validate(self, attrs: dict) -> dict:
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    dict.fromkeys(unknown, _("The merchant set this; it cannot be sent."))
                )
            return attrs

    def get_throttles(self):
        return [PaymentCreateThrottle()]

    @api_schema(
        request=InputSerializer,
        responses={201: PaymentOrderOutput, 200: PaymentOrderOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.NotFound,
            errors.Conflict,
            exceptions.UnsupportedMediaType,
            errors.InsufficientFunds,
            errors.AccountFrozen,
            errors.NoChannel,
            errors.NotAvailable,
            exceptions.Throttled,
            errors.ChannelUnavailable,
        ],
        summary="Pay an order payment a merchant made for you, from your balance or through a channel",
        description=(
            "Only the order's payer (anyone else: not_found). `balance` debits the wallet at the merchant's amount "
            "at once (insufficient_funds, 422, when short) and answers `success`; a channel method answers "
            "`paying` with what the client needs under `pay`. 201 when this request paid or opened it; the same "
            "method and client again answer 200 with the order as it stands (the order is the idempotency key); "
            "another way once chosen, or an expired, closed or failed order, is a conflict (409). A channel "
            "that refuses (not_available, 422) or does not take it (channel_unavailable, 503) gives the order "
            "back to `awaiting`: choose again. Fields other than these (`amount`, `subject`, ...) are a "
            "validation_error."
        ),
    )
    def post(self, request: Request, order_no: str) -> Response:
        payer = request_user(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = selectors.payment_order_for_user(
            user=payer, order_no=order_no, business_type=BusinessType.ORDER_PAYMENT
        )
        if order is None:
            raise errors.NotFound(_("No such order."))
        creation = services.payment_order_pay(
            order=order, payer=payer, client_ip=_client_ip(request), **serializer.validated_data
        )
        code = status.HTTP_201_CREATED if creation.created else status.HTTP_200_OK
        return Response(PaymentOrderOutput(creation.order).data, status=code)


class RechargeDetailApi(APIView):
    @api_schema(
        responses={200: PaymentOrderOutput},
        errors=[errors.NotFound],
        summary="One of your recharges (an open one is checked with the channel)",
    )
    def get(self, request: Request, order_no: str) -> Response:
        return Response(PaymentOrderOutput(_own_synced(request, order_no, BusinessType.RECHARGE)).data)


class PaymentDetailApi(APIView):
    @api_schema(
        responses={200: PaymentOrderOutput},
        errors=[errors.NotFound],
        summary="One of your payments (an open one is checked with the channel)",
    )
    def get(self, request: Request, order_no: str) -> Response:
        return Response(PaymentOrderOutput(_own_synced(request, order_no, BusinessType.ORDER_PAYMENT)).data)


class PaymentCloseApi(APIView):
    """``POST recharges/<order_no>/close/`` and ``payments/<order_no>/close/``: the payer gives up
    an open order (say, to pay another way). The channel is asked first: a payment that went
    through makes it ``success`` instead."""

    business_type: str = BusinessType.ORDER_PAYMENT

    def get_throttles(self):
        # Each close asks the channel twice and is recorded: as rare as opening an order.
        return [PaymentCreateThrottle()]

    @api_schema(
        request=None,
        responses={200: PaymentOrderOutput},
        errors=[exceptions.PermissionDenied, errors.NotFound, errors.Conflict, exceptions.Throttled],
        summary="Close one of your open orders (a paid one answers success)",
        description=(
            "conflict (409) when the order is not open, or when the channel cannot close it yet (an Alipay page "
            "payment nobody opened stays payable until `expires_at` and closes by itself then)."
        ),
    )
    def post(self, request: Request, order_no: str) -> Response:
        order = _own(request, order_no, self.business_type)
        if not order.is_open:
            raise errors.Conflict(
                _("Order %(order_no)s is %(status)s, not open.") % {"order_no": order.order_no, "status": order.status},
                fields={"status": order.status},
            )
        order = services.payment_order_close(order=order, actor=request_user(request), reason="closed by the payer")
        if order.is_open:
            raise errors.Conflict(
                _("The channel cannot close this order yet; it closes by itself when it expires."),
                fields={"expires_at": order.expires_at.isoformat()},
            )
        return Response(PaymentOrderOutput(order).data)


class RechargeCloseApi(PaymentCloseApi):
    business_type = BusinessType.RECHARGE


class RefundDetailApi(APIView):
    @api_schema(
        responses={200: RefundOutput},
        errors=[errors.NotFound],
        summary="One refund of your payments",
    )
    def get(self, request: Request, refund_no: str) -> Response:
        refund = selectors.refund_for_user(user=request_user(request), refund_no=refund_no)
        if refund is None:
            raise errors.NotFound(_("No such refund."))
        if refund.status == Refund.Status.PROCESSING and _query_due(refund.refund_no):
            refund = refunds.refund_sync(refund=refund)
        return Response(RefundOutput(refund).data)


def _create(request: Request, input_serializer: type[serializers.Serializer], *, business_type: str) -> Response:
    key = request_idempotency_key(request)
    serializer = input_serializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    creation = services.payment_order_create(
        user=request_user(request),
        business_type=business_type,
        idempotency_key=key,
        client_ip=_client_ip(request),
        **serializer.validated_data,
    )
    return _created(PaymentOrderOutput(creation.order).data, replayed=not creation.created)


def _created(data: dict, *, replayed: bool) -> Response:
    response = Response(data, status=status.HTTP_201_CREATED)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _own(request: Request, order_no: str, business_type: str) -> PaymentOrder:
    order = selectors.payment_order_for_user(user=request_user(request), order_no=order_no, business_type=business_type)
    if order is None:
        raise errors.NotFound(_("No such order."))
    return order


def _own_synced(request: Request, order_no: str, business_type: str) -> PaymentOrder:
    order = _own(request, order_no, business_type)
    if order.is_open and _query_due(order.order_no):
        order = services.payment_order_sync(order=order)
    return order


def _query_due(number: str) -> bool:
    """True at most once per order or refund every ``READ_QUERY_SECONDS``."""
    return cache.add(f"payments:read-query:{number}", 1, timeout=READ_QUERY_SECONDS)


def _client_ip(request: Request) -> str | None:
    """The payer's address: from ``CLIENT_IP_HEADER`` when a trusted proxy sets it, taking the
    last entry of a list (the one the proxy added; earlier ones came from the client), and
    only when it is an IP address; otherwise the connection's."""
    if settings.CLIENT_IP_HEADER:
        forwarded = request.headers.get(settings.CLIENT_IP_HEADER, "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")
