"""Wallet API: balance, statement, user-to-user transfers (docs/ARCHITECTURE.md §9)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors, selectors, services
from wallet.models import Account
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent, request_idempotency_key
from wallet.rest.inputs import StrictCharField
from wallet.rest.pagination import NewestFirstCursorPagination
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NOT_BLANK, api_schema
from wallet.rest.users import request_user


class WalletDetailApi(APIView):
    @extend_schema_serializer(component_name="Wallet")
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
        balance = SignedMoneyField(help_text="Money in the wallet, held money included.")
        available = SignedMoneyField(help_text="What can be spent now: balance minus frozen.")
        frozen = SignedMoneyField(help_text="Held for withdrawals in progress.")
        status = serializers.ChoiceField(choices=Account.Status.choices, help_text="A frozen wallet cannot pay.")

    @api_schema(responses={200: OutputSerializer}, summary="Balance, available and frozen money")
    def get(self, request: Request) -> Response:
        summary = selectors.wallet_summary(user=request_user(request))
        return Response(self.OutputSerializer(summary).data)


class StatementPagination(NewestFirstCursorPagination):
    page_size = 50
    max_page_size = 200


class WalletEntriesApi(APIView):
    # APIView does not paginate by itself; get() uses it, and the schema reads it from here.
    pagination_class = StatementPagination

    @extend_schema_serializer(component_name="StatementEntry")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        transfer_id = serializers.IntegerField()
        kind = serializers.CharField(source="transfer.kind", help_text="What moved the money: p2p, recharge, ...")
        memo = serializers.CharField(source="transfer.memo", help_text="Empty when none was given.")
        reference = serializers.CharField(source="transfer.reference", help_text="Empty when none.")
        amount = SignedMoneyField(help_text="Negative when money left the wallet.")
        balance_after = SignedMoneyField()
        created_at = serializers.DateTimeField()

    @api_schema(
        responses={200: OutputSerializer(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        summary="Statement, newest first",
    )
    def get(self, request: Request) -> Response:
        account = selectors.user_account(user=request_user(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.statement_entries(account=account), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class TransferSendApi(APIView):
    @extend_schema_serializer(component_name="TransferSendInput")
    class InputSerializer(serializers.Serializer):
        to = StrictCharField(max_length=150, validators=[NOT_BLANK], help_text="The recipient's username.")
        amount = MoneyField()
        memo = StrictCharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema_serializer(component_name="TransferSent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="pk")
        to = serializers.CharField()
        amount = SignedMoneyField()
        memo = serializers.CharField()
        created_at = serializers.DateTimeField()

    @api_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.InsufficientFunds,
            errors.AccountFrozen,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, IDEMPOTENT_REPLAYED],
        summary="Send money to another user",
        description=(
            "An unknown recipient, or yourself, is a validation_error on `to`. Retrying with the same "
            "Idempotency-Key and body returns the first response with `Idempotent-Replayed: true`."
        ),
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
                idempotency_key=request_idempotency_key(request),
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
        kind = serializers.CharField(help_text="What moved the money: p2p, recharge, ...")
        memo = serializers.CharField(help_text="Empty when none was given.")
        reference = serializers.CharField(help_text="Empty when none.")
        created_at = serializers.DateTimeField()
        entries = serializers.SerializerMethodField()

        @extend_schema_field(EntrySerializer(many=True))
        def get_entries(self, transfer) -> list[dict]:
            own = [e for e in transfer.entries.all() if e.account.owner_id == self.context["user"].pk]
            return list(self.EntrySerializer(own, many=True).data)

    @api_schema(
        responses={200: OutputSerializer},
        errors=[errors.NotFound],
        summary="A transfer you took part in (your legs only)",
    )
    def get(self, request: Request, transfer_id: int) -> Response:
        transfer = selectors.transfer_for_user(user=request_user(request), transfer_id=transfer_id)
        if transfer is None:
            raise errors.NotFound("No such transfer.")
        return Response(self.OutputSerializer(transfer, context={"user": request_user(request)}).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
