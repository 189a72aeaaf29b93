"""Wallet API: balance, statement, user-to-user transfers (docs/ARCHITECTURE.md §9, docs/WALLET.md)."""

from django.contrib.auth import get_user_model
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors, selectors, statements
from wallet.models import Account, Entry, PeerTransfer
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
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NOT_BLANK, NamedChoiceField, api_schema
from wallet.rest.users import request_user
from wallet.transfers import selectors as transfer_selectors
from wallet.transfers import services as transfer_services
from wallet.transfers.reasons import TRANSFER_STATUS


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


@extend_schema_serializer(component_name="Transfer")
class PeerTransferSerializer(serializers.Serializer):
    """A user-to-user transfer as its sender or recipient sees it (``context["user"]``)."""

    @extend_schema_serializer(component_name="TransferLeg")
    class EntrySerializer(serializers.Serializer):
        account = serializers.SerializerMethodField(help_text="`wallet`: your wallet, the only account you see.")
        amount = SignedMoneyField()

        @extend_schema_field({"type": "string", "enum": ["wallet"]})
        def get_account(self, entry) -> str:
            """Your own legs are on your wallet; its ledger code names your user id, so it is not shown."""
            return "wallet"

    id = serializers.IntegerField()
    kind = serializers.SerializerMethodField(help_text="Always `p2p`.")
    status = NamedChoiceField(
        enum_name="TransferStatus",
        choices=PeerTransfer.Status.choices,
        help_text="`posted`: the money moved; `under_review`: held on the sender's wallet until staff decide; "
        "`rejected`: released back to the sender.",
    )
    direction = serializers.SerializerMethodField(help_text="`sent` or `received`, from your side.")
    counterparty = serializers.SerializerMethodField(help_text="The other user's username.")
    to = serializers.CharField(source="recipient.username")
    amount = SignedMoneyField()
    memo = serializers.CharField(help_text="Empty when none was given.")
    reference = serializers.SerializerMethodField(help_text="`p2p:<id>`, as on the ledger's rows.")
    receive_code = serializers.IntegerField(
        source="receive_code_id", allow_null=True, help_text="The receive code paid, if any."
    )
    status_code = StatusCodeField(catalogue=TRANSFER_STATUS, enum_name="TransferStatusCode")
    status_message = StatusMessageField(catalogue=TRANSFER_STATUS)
    status_reason = serializers.CharField(help_text="Why staff rejected it, as they gave it; empty otherwise.")
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)
    entries = serializers.SerializerMethodField()

    def get_kind(self, transfer: PeerTransfer) -> str:
        return "p2p"

    def get_direction(self, transfer: PeerTransfer) -> str:
        return "sent" if transfer.sender_id == self.context["user"].pk else "received"

    def get_counterparty(self, transfer: PeerTransfer) -> str:
        other = transfer.recipient if transfer.sender_id == self.context["user"].pk else transfer.sender
        return other.get_username()

    def get_reference(self, transfer: PeerTransfer) -> str:
        return f"p2p:{transfer.pk}"

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, transfer: PeerTransfer) -> list[dict]:
        """Your legs on the ledger; none while it is under review or after a rejection."""
        if transfer.ledger_transfer is None:
            return []
        own = [e for e in transfer.ledger_transfer.entries.all() if e.account.owner_id == self.context["user"].pk]
        return list(self.EntrySerializer(own, many=True).data)


class WalletEntriesApi(APIView):
    # APIView does not paginate by itself; get() uses it, and the schema reads it from here.
    pagination_class = StatementPagination

    @extend_schema_serializer(component_name="StatementEntry")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        transfer_id = serializers.IntegerField()
        kind = serializers.CharField(
            source="transfer.kind",
            help_text="What moved the money, a stable code: p2p, recharge, withdrawal, order_payment, refund, ...",
        )
        counterparty = serializers.SerializerMethodField(
            help_text="The other side as you know it: the other user's username, the merchant's or payment "
            "channel's name, the campaign's title; null when there is none (unclaimed red packet shares)."
        )
        description = serializers.SerializerMethodField(
            help_text='What happened, in the request\'s language: "Transfer from bob", "Withdrawal to bank '
            'card ICBC ****1234", "Red packet from alice", "Refund of order P...".'
        )
        memo = serializers.CharField(source="transfer.memo", help_text="Empty when none was given.")
        reference = serializers.CharField(source="transfer.reference", help_text="Empty when none.")
        amount = SignedMoneyField(help_text="Negative when money left the wallet.")
        balance_after = SignedMoneyField()
        created_at = serializers.DateTimeField()

        def get_counterparty(self, entry: Entry) -> str | None:
            return self.context["lines"][entry.pk].counterparty

        def get_description(self, entry: Entry) -> str:
            return self.context["lines"][entry.pk].description

    @api_schema(
        responses={200: OutputSerializer(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        summary="Statement, newest first",
    )
    def get(self, request: Request) -> Response:
        account = selectors.user_account(user=request_user(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.statement_entries(account=account), request, view=self) or []
        lines = statements.statement_describe(page)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True, context={"lines": lines}).data)


class TransferSendApi(APIView):
    @extend_schema_serializer(component_name="TransferSendInput")
    class InputSerializer(serializers.Serializer):
        to = StrictCharField(
            max_length=150,
            required=False,
            validators=[NOT_BLANK],
            help_text="The recipient's username; or give `receive_code` instead.",
        )
        receive_code = StrictCharField(
            max_length=512,
            required=False,
            validators=[NOT_BLANK],
            help_text="The token of a receive code (from its QR): pays the code's owner.",
        )
        amount = MoneyField(required=False, help_text="Required, except for a receive code with a fixed amount.")
        memo = StrictCharField(max_length=255, required=False, allow_blank=True, default="")

        def validate(self, attrs: dict) -> dict:
            if ("to" in attrs) == ("receive_code" in attrs):
                raise serializers.ValidationError({"to": _("Give either `to` or `receive_code`.")})
            if "to" in attrs and "amount" not in attrs:
                raise serializers.ValidationError({"amount": _("This field is required.")})
            return attrs

    @api_schema(
        request=InputSerializer,
        responses={201: PeerTransferSerializer},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.Conflict,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.InsufficientFunds,
            errors.AccountFrozen,
            errors.RiskRejected,
            errors.LimitExceeded,
            errors.NotAvailable,
            *PAYMENT_PASSWORD_ERRORS,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, *PAYMENT_PASSWORD_PARAMETERS, IDEMPOTENT_REPLAYED],
        summary="Send money to another user, or pay a receive code",
        description=(
            "`status` is `posted` when the money moved, `under_review` when risk control holds it on your "
            "wallet until staff decide. An unknown recipient, or yourself, is a validation_error on `to`; a "
            "receive code that is not valid or has expired one on `receive_code` (`invalid`, `expired`, `own`), "
            "an amount other than a fixed code's one on `amount` (`differs_from_code`); a revoked or already "
            "paid single-use code is a 409 `conflict` (`receive_code`: `revoked`, `used`). Refusals by risk "
            "control are 422 with `fields.risk_rule`; a frozen wallet is 422 `account_frozen` with `from` or "
            "`to`. Retrying with the same Idempotency-Key and body returns the transfer again with "
            "`Idempotent-Replayed: true`. Needs your payment password or a payment token (403 "
            "`payment_password_*` otherwise), but not on such a retry."
        ),
    )
    def post(self, request: Request) -> Response:
        key = request_idempotency_key(request)
        data = _valid(self.InputSerializer, request)
        sender = request_user(request)
        replay = PeerTransfer.objects.filter(sender=sender, idempotency_key=key).exists()
        request_payment_authorise(request, replay=replay)
        recipient = None
        if "to" in data:
            recipient = get_user_model().objects.filter(username=data["to"]).first()
            if recipient is None:
                raise errors.ValidationFailed(_("No such recipient."), fields={"to": "not_found"})
        sent = transfer_services.transfer_send(
            sender=sender,
            recipient=recipient,
            receive_code=data.get("receive_code", ""),
            amount=data.get("amount"),
            memo=data["memo"],
            idempotency_key=key,
        )
        prefetch_related_objects([sent.transfer], "ledger_transfer", transfer_selectors.peer_transfer_legs())
        body = PeerTransferSerializer(sent.transfer, context={"user": sender}).data
        response = Response(body, status=status.HTTP_201_CREATED)
        if not sent.created:
            response["Idempotent-Replayed"] = "true"
        return response


class TransferDetailApi(APIView):
    @api_schema(
        responses={200: PeerTransferSerializer},
        errors=[errors.NotFound],
        summary="A transfer you sent, or received once posted (your legs only)",
    )
    def get(self, request: Request, transfer_id: int) -> Response:
        user = request_user(request)
        transfer = transfer_selectors.peer_transfer_for_user(user=user, transfer_id=transfer_id)
        if transfer is None:
            raise errors.NotFound(_("No such transfer."))
        return Response(PeerTransferSerializer(transfer, context={"user": user}).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
