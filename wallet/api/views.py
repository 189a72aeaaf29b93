"""Wallet API: balance, statement, user-to-user transfers (DESIGN §9)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors, selectors, services
from wallet.api.fields import MoneyField, SignedMoneyField
from wallet.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from wallet.api.users import request_user


class WalletDetailApi(APIView):
    @extend_schema_serializer(component_name="Wallet")
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        balance = SignedMoneyField()
        available = SignedMoneyField()
        frozen = SignedMoneyField()
        status = serializers.CharField()

    @extend_schema(responses=OutputSerializer, summary="Balance, available and frozen money")
    def get(self, request: Request) -> Response:
        summary = selectors.wallet_summary(user=request_user(request))
        return Response(self.OutputSerializer(summary).data)


class StatementPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class WalletEntriesApi(APIView):
    # APIView does not paginate by itself; get() uses it, and the schema reads it from here.
    pagination_class = StatementPagination

    @extend_schema_serializer(component_name="StatementEntry")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        transfer_id = serializers.IntegerField()
        kind = serializers.CharField(source="transfer.kind")
        memo = serializers.CharField(source="transfer.memo")
        reference = serializers.CharField(source="transfer.reference")
        amount = SignedMoneyField()
        balance_after = SignedMoneyField()
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True), summary="Statement, newest first")
    def get(self, request: Request) -> Response:
        account = selectors.user_account(user=request_user(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.statement_entries(account=account), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class TransferSendApi(APIView):
    @extend_schema_serializer(component_name="TransferSendInput")
    class InputSerializer(serializers.Serializer):
        to = serializers.CharField(max_length=150, help_text="The recipient's username.")
        amount = MoneyField()
        memo = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema_serializer(component_name="TransferSent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="pk")
        to = serializers.CharField()
        amount = SignedMoneyField()
        memo = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        summary="Send money to another user",
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        recipient = get_user_model().objects.filter(username=data["to"]).first()
        if recipient is None:
            raise errors.ValidationFailed("No such recipient.", fields={"to": "not_found"})

        def send() -> Response:
            transfer = services.transfer_send(
                sender=request_user(request),
                recipient=recipient,
                amount=data["amount"],
                memo=data["memo"],
                idempotency_key=request.headers["Idempotency-Key"],
            )
            body = {
                "pk": transfer.pk,
                "to": recipient.get_username(),
                "amount": data["amount"],
                "memo": transfer.memo,
                "created_at": transfer.created_at,
            }
            return Response(self.OutputSerializer(body).data, status=status.HTTP_201_CREATED)

        return idempotent(request, send)


class TransferDetailApi(APIView):
    @extend_schema_serializer(component_name="Transfer")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="TransferLeg")
        class EntrySerializer(serializers.Serializer):
            account = serializers.CharField(source="account.code")
            amount = SignedMoneyField()

        id = serializers.IntegerField()
        kind = serializers.CharField()
        memo = serializers.CharField()
        reference = serializers.CharField()
        created_at = serializers.DateTimeField()
        entries = serializers.SerializerMethodField()

        def get_entries(self, transfer) -> list[dict]:
            own = [e for e in transfer.entries.all() if e.account.owner_id == self.context["user"].pk]
            return list(self.EntrySerializer(own, many=True).data)

    @extend_schema(responses=OutputSerializer, summary="A transfer you took part in (your legs only)")
    def get(self, request: Request, transfer_id: int) -> Response:
        transfer = selectors.transfer_for_user(user=request_user(request), transfer_id=transfer_id)
        if transfer is None:
            raise errors.NotFound("No such transfer.")
        return Response(self.OutputSerializer(transfer, context={"user": request_user(request)}).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
