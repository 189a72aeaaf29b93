"""Payout accounts and withdrawals API (DESIGN §9): a user only ever sees their own objects."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors, services
from payments.api.filters import WithdrawalFilter
from payments.models import PayoutAccountKind, Withdrawal
from wallet import errors
from wallet.api.fields import MoneyField, SignedMoneyField
from wallet.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, request_idempotency_key
from wallet.api.throttles import UserRateThrottle
from wallet.api.users import request_user


class WithdrawalSubmitThrottle(UserRateThrottle):
    scope = "withdrawal_submit"


@extend_schema_serializer(component_name="PayoutAccount")
class PayoutAccountOutput(serializers.Serializer):
    """Masked only: the sealed identifiers never leave the server."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    display = serializers.CharField(help_text="Masked card number with its bank, or masked openid.")
    bank_code = serializers.CharField()
    holder_name = serializers.CharField(source="masked_holder", help_text="Masked.")
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Withdrawal")
class WithdrawalOutput(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.CharField()
    amount = SignedMoneyField()
    fee = SignedMoneyField()
    actual_amount = SignedMoneyField(help_text="What reaches the payout account: amount minus fee.")
    currency = serializers.CharField()
    channel = serializers.CharField(source="channel.code")
    payout_account = PayoutAccountOutput()
    status_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class PayoutAccountsApi(APIView):
    @extend_schema_serializer(component_name="PayoutAccountBindInput")
    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=PayoutAccountKind.choices)
        openid = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
        card_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
        holder_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
        bank_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=16)

    @extend_schema(responses=PayoutAccountOutput(many=True), summary="Your payout accounts, masked")
    def get(self, request: Request) -> Response:
        accounts = selectors.payout_accounts_for_user(user=request_user(request))
        return Response(PayoutAccountOutput(accounts, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: PayoutAccountOutput, 200: PayoutAccountOutput},
        summary="Bind a WeChat openid or a bank card (201; 200 when it was bound already)",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account, created = services.payout_account_bind(user=request_user(request), **serializer.validated_data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PayoutAccountOutput(account).data, status=code)


class WithdrawalPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


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

    @extend_schema(
        responses=WithdrawalOutput(many=True),
        parameters=[
            OpenApiParameter("status", str, many=True, enum=Withdrawal.Status.values),
            OpenApiParameter("created_from", str, description="First local date (YYYY-MM-DD), inclusive."),
            OpenApiParameter("created_to", str, description="Last local date (YYYY-MM-DD), inclusive."),
        ],
        summary="Your withdrawals, newest first",
    )
    def get(self, request: Request) -> Response:
        filters = WithdrawalFilter(
            request.query_params, queryset=selectors.withdrawals_for_user(user=request_user(request))
        )
        if not filters.is_valid():
            raise errors.ValidationFailed(
                "The filters are not valid.",
                fields={name: str(messages[0]) for name, messages in filters.errors.items()},
            )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filters.qs, request, view=self)
        return paginator.get_paginated_response(WithdrawalOutput(page, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: WithdrawalOutput},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        summary="Withdraw to one of your payout accounts",
        description=(
            "Holds the amount at once. Risk rules approve it, send it to finance review, or refuse it "
            "(limit_exceeded, risk_rejected, window_closed, not_available; 422). Retrying with the same "
            "Idempotency-Key and body returns the same order with `Idempotent-Replayed: true`."
        ),
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        key = request_idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payout_account = selectors.payout_account_for_user(
            user=user, payout_account_id=serializer.validated_data["payout_account"]
        )
        if payout_account is None:
            raise errors.ValidationFailed("No such payout account.", fields={"payout_account": "not_found"})
        submission = services.withdrawal_submit(
            user=user, payout_account=payout_account, amount=serializer.validated_data["amount"], idempotency_key=key
        )
        response = Response(WithdrawalOutput(submission.withdrawal).data, status=status.HTTP_201_CREATED)
        if not submission.created:
            response["Idempotent-Replayed"] = "true"
        return response


class WithdrawalDetailApi(APIView):
    @extend_schema(responses=WithdrawalOutput, summary="One of your withdrawals")
    def get(self, request: Request, order_no: str) -> Response:
        return Response(WithdrawalOutput(_own_withdrawal(request, order_no)).data)


class WithdrawalCancelApi(APIView):
    @extend_schema_serializer(component_name="WithdrawalCancelInput")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)

    @extend_schema(
        request=InputSerializer,
        responses=WithdrawalOutput,
        summary="Cancel a withdrawal before it is dispatched (a second cancel is a no-op)",
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
        raise errors.NotFound("No such withdrawal.")
    return withdrawal
