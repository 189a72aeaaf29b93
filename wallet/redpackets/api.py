"""Red packets API (docs/WALLET.md, "API"): send, grab, look, list.

A packet is visible to its sender, to the user or group members it was sent to, and to whoever
grabbed a share; to anyone else it does not exist (404). Who grabbed what is shown to the
sender and to those who grabbed.
"""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wallet import errors
from wallet.payment_password.headers import (
    PAYMENT_PASSWORD_ERRORS,
    PAYMENT_PASSWORD_PARAMETERS,
    request_payment_authorise,
)
from wallet.redpackets import selectors, services
from wallet.redpackets.models import ChatGroup, RedPacket
from wallet.redpackets.reasons import RED_PACKET_STATUS
from wallet.rest.fields import MoneyField, SignedMoneyField
from wallet.rest.idempotency import IDEMPOTENCY_KEY_PARAMETER, request_idempotency_key
from wallet.rest.inputs import StrictCharField
from wallet.rest.pagination import NewestFirstCursorPagination
from wallet.rest.reasons import StatusCodeField, StatusMessageField
from wallet.rest.schema import IDEMPOTENT_REPLAYED, NOT_BLANK, NamedChoiceField, api_schema
from wallet.rest.throttles import UserRateThrottle
from wallet.rest.users import request_user

GRAB_REPLAYED = OpenApiParameter(
    name="Idempotent-Replayed",
    location=OpenApiParameter.HEADER,
    response=[200],
    type={"type": "string", "enum": ["true"]},
    description="Always present on 200: this is the share you grabbed before.",
)


class RedPacketSendThrottle(UserRateThrottle):
    scope = "red_packet_send"


class RedPacketGrabThrottle(UserRateThrottle):
    scope = "red_packet_grab"


@extend_schema_serializer(component_name="RedPacketGrab")
class GrabOutput(serializers.Serializer):
    user = serializers.CharField(source="grabbed_by.username")
    amount = SignedMoneyField()
    grabbed_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="RedPacket")
class PacketOutput(serializers.Serializer):
    packet_no = serializers.CharField()
    sender = serializers.CharField(source="sender.username")
    recipient = serializers.CharField(
        source="recipient.username", allow_null=True, help_text="The one user it was sent to; null for a group."
    )
    group = serializers.IntegerField(source="group_id", allow_null=True, help_text="Null for one user.")
    mode = NamedChoiceField(enum_name="RedPacketMode", choices=RedPacket.Mode.choices)
    amount = SignedMoneyField()
    count = serializers.IntegerField()
    currency = serializers.CharField(help_text="ISO 4217 code: CNY.")
    greeting = serializers.CharField(help_text="Empty when none was given.")
    status = NamedChoiceField(enum_name="RedPacketStatus", choices=RedPacket.Status.choices)
    status_code = StatusCodeField(catalogue=RED_PACKET_STATUS, enum_name="RedPacketStatusCode")
    status_message = StatusMessageField(catalogue=RED_PACKET_STATUS)
    refunded_amount = SignedMoneyField(help_text="Returned to the sender at expiry; 0.00 otherwise.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(
        allow_null=True, help_text="When the last share was grabbed or the remainder refunded; null while open."
    )


@extend_schema_serializer(component_name="RedPacketDetail")
class PacketDetailOutput(PacketOutput):
    """A red packet with how much of it was grabbed, your share, and who grabbed what."""

    grabbed_count = serializers.IntegerField(source="progress.grabbed_count")
    grabbed_amount = SignedMoneyField(source="progress.grabbed_amount")
    my_share = serializers.SerializerMethodField()
    grabs = serializers.SerializerMethodField()

    @extend_schema_field(GrabOutput(allow_null=True))
    def get_my_share(self, packet: RedPacket) -> dict | None:
        """Null until you grab."""
        share = self.context["my_share"]
        return None if share is None else dict(GrabOutput(share).data)

    @extend_schema_field(GrabOutput(many=True, allow_null=True))
    def get_grabs(self, packet: RedPacket) -> list[dict] | None:
        """Null for an intended recipient who has not grabbed yet."""
        grabs = self.context["grabs"]
        return None if grabs is None else list(GrabOutput(grabs, many=True).data)


@extend_schema_serializer(component_name="RedPacketReceived")
class ReceivedOutput(serializers.Serializer):
    packet_no = serializers.CharField(source="packet.packet_no")
    sender = serializers.CharField(source="packet.sender.username")
    greeting = serializers.CharField(source="packet.greeting")
    amount = SignedMoneyField(help_text="Your share.")
    grabbed_at = serializers.DateTimeField()


class SentPagination(NewestFirstCursorPagination):
    page_size = 20
    max_page_size = 100


class ReceivedPagination(NewestFirstCursorPagination):
    ordering = ("-grabbed_at", "-id")
    page_size = 20
    max_page_size = 100


class RedPacketSendApi(APIView):
    throttle_classes = [RedPacketSendThrottle]

    @extend_schema_serializer(component_name="RedPacketSendInput")
    class InputSerializer(serializers.Serializer):
        amount = MoneyField(help_text="The whole packet; at most RED_PACKET_MAX_AMOUNT (200.00 by default).")
        count = serializers.IntegerField(
            min_value=1, max_value=1000, help_text="Shares: 1 to RED_PACKET_MAX_COUNT (100 by default)."
        )
        mode = NamedChoiceField(
            enum_name="RedPacketMode",
            choices=RedPacket.Mode.choices,
            help_text="lucky: random shares of at least 0.01; equal: the amount must divide into whole cents.",
        )
        recipient = StrictCharField(
            required=False, max_length=150, validators=[NOT_BLANK], help_text="Username; or give `group`."
        )
        group = serializers.IntegerField(
            required=False, min_value=1, max_value=2**63 - 1, help_text="A group you are in; or `recipient`."
        )
        greeting = StrictCharField(required=False, allow_blank=True, default="", max_length=100)

    @api_schema(
        request=InputSerializer,
        responses={201: PacketOutput},
        errors=[
            errors.ValidationFailed,
            exceptions.PermissionDenied,
            errors.IdempotencyConflict,
            exceptions.UnsupportedMediaType,
            errors.InsufficientFunds,
            errors.AccountFrozen,
            exceptions.Throttled,
            *PAYMENT_PASSWORD_ERRORS,
        ],
        parameters=[IDEMPOTENCY_KEY_PARAMETER, *PAYMENT_PASSWORD_PARAMETERS, IDEMPOTENT_REPLAYED],
        summary="Send a red packet to one user or to a group",
        description=(
            "Moves the amount from your wallet into escrow at once and cuts it into `count` shares. "
            "Unclaimed shares go back to you 24 hours later. Retrying with the same Idempotency-Key and "
            "body returns the same packet with `Idempotent-Replayed: true`. Needs your payment password or a "
            "payment token (403 `payment_password_*` otherwise), but not on such a retry."
        ),
    )
    def post(self, request: Request) -> Response:
        sender = request_user(request)
        key = request_idempotency_key(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        request_payment_authorise(request, replay=RedPacket.objects.filter(sender=sender, idempotency_key=key).exists())
        recipient = None
        if "recipient" in data:
            recipient = get_user_model().objects.filter(username=data["recipient"]).first()
            if recipient is None:
                raise errors.ValidationFailed(_("No such recipient."), fields={"recipient": "not_found"})
        group = None
        if "group" in data:
            group = ChatGroup.objects.filter(pk=data["group"]).first()
            if group is None:
                raise errors.ValidationFailed(_("No such group."), fields={"group": "not_found"})
        sending = services.redpacket_send(
            sender=sender,
            amount=data["amount"],
            count=data["count"],
            mode=data["mode"],
            recipient=recipient,
            group=group,
            greeting=data["greeting"],
            idempotency_key=key,
        )
        response = Response(PacketOutput(sending.packet).data, status=status.HTTP_201_CREATED)
        if not sending.created:
            response["Idempotent-Replayed"] = "true"
        return response


class RedPacketDetailApi(APIView):
    @api_schema(
        responses={200: PacketDetailOutput},
        errors=[errors.NotFound],
        summary="A red packet you sent, were sent, or grabbed from",
        description="`grabs` (who grabbed what) is null for a recipient who has not grabbed yet.",
    )
    def get(self, request: Request, packet_no: str) -> Response:
        user = request_user(request)
        packet = _visible_packet(user, packet_no)
        packet.progress = selectors.packet_progress(packet=packet)  # type: ignore[attr-defined]
        grabs = selectors.grabbed_shares(packet=packet) if selectors.may_see_grabs(packet=packet, user=user) else None
        context = {"my_share": selectors.share_of(packet=packet, user=user), "grabs": grabs}
        return Response(PacketDetailOutput(packet, context=context).data)


class RedPacketGrabApi(APIView):
    throttle_classes = [RedPacketGrabThrottle]

    @extend_schema_serializer(component_name="RedPacketGrabbed")
    class OutputSerializer(serializers.Serializer):
        packet_no = serializers.CharField(source="packet.packet_no")
        amount = SignedMoneyField(help_text="Your share, now in your wallet.")
        grabbed_at = serializers.DateTimeField()

    @api_schema(
        request=None,
        responses={201: OutputSerializer, 200: OutputSerializer},
        errors=[
            errors.NotFound,
            exceptions.PermissionDenied,
            errors.Conflict,
            errors.RedPacketEmpty,
            errors.RedPacketExpired,
            exceptions.Throttled,
        ],
        parameters=[GRAB_REPLAYED],
        summary="Grab a share of a red packet (201; 200 with the same share when grabbed before)",
        description=(
            "One share per user and packet: grabbing again answers the share you got (200). "
            "red_packet_empty and red_packet_expired (422) when none is left; conflict (409) while "
            "another grab of yours for this packet is still being recorded: ask again. The sender "
            "may grab a share of a group packet, not of one sent to one user (403)."
        ),
    )
    def post(self, request: Request, packet_no: str) -> Response:
        user = request_user(request)
        grab = services.redpacket_grab(packet=_visible_packet(user, packet_no), user=user)
        if grab.created:
            return Response(self.OutputSerializer(grab.share).data, status=status.HTTP_201_CREATED)
        return Response(self.OutputSerializer(grab.share).data, headers={"Idempotent-Replayed": "true"})


class RedPacketsSentApi(APIView):
    pagination_class = SentPagination

    @api_schema(
        responses={200: PacketOutput(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        summary="Red packets you sent, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.packets_sent(user=request_user(request)), request, view=self)
        return paginator.get_paginated_response(PacketOutput(page, many=True).data)


class RedPacketsReceivedApi(APIView):
    pagination_class = ReceivedPagination

    @api_schema(
        responses={200: ReceivedOutput(many=True)},
        errors=[errors.ValidationFailed, exceptions.NotFound],
        summary="Shares you grabbed, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        shares = selectors.shares_received(user=request_user(request))
        page = paginator.paginate_queryset(shares, request, view=self)
        return paginator.get_paginated_response(ReceivedOutput(page, many=True).data)


def _visible_packet(user, packet_no: str) -> RedPacket:
    packet = selectors.packet_for_viewer(user=user, packet_no=packet_no)
    if packet is None:
        raise errors.NotFound(_("No such red packet."))
    return packet
