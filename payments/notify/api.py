"""``POST /api/v1/notify/<channel>/``: channels' asynchronous notifies (docs/ARCHITECTURE.md §6, §9).

No user authentication: the channel's signature is the authentication, verified by its adapter
before anything is read. One URL per channel takes all of its notifies (payouts, payments,
refunds); the adapter says which it is. A forged, unreadable or contradicting notify changes
nothing, is logged, counted (metric ``wallet_notify_refused``, by reason) and, for
payments and refunds, stored as a refused event; it gets the protocol's failure reply, with 400
when it is forged or unreadable: it did not come from the channel, so there is nothing for us to
get right on a retry. A genuine one is applied idempotently, so the channel's retries and
duplicates are safe.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from limits import RateLimitItemPerMinute
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from payments import metrics
from payments.channels import registry
from payments.channels.base import Notice, NotifyRejected, PaymentStatus, RefundStatus
from payments.channels.models import Channel
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.events import event_record
from payments.orders.models import PaymentEvent
from payments.withdrawals import payouts
from wallet import errors
from wallet.ratelimit import rate_limiter
from wallet.rest.schema import api_schema

logger = logging.getLogger(__name__)

REJECTED_EVENTS_PER_MINUTE = RateLimitItemPerMinute(60)


# A notify is answered in its protocol's media type: one of these.
_BODIES = {"text/plain": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT, "text/xml": OpenApiTypes.STR}


def _protocol_answers(code: int, description: str) -> dict[tuple[int, str], OpenApiResponse]:
    return {(code, media_type): OpenApiResponse(kind, description=description) for media_type, kind in _BODIES.items()}


class _AnyAccept(BaseContentNegotiation):
    """Channels' Accept headers are theirs to choose: never a 406; our own errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ChannelNotifyApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    content_negotiation_class = _AnyAccept

    @api_schema(
        authenticated=False,
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
            "text/xml": OpenApiTypes.STR,
        },
        responses={
            **_protocol_answers(
                status.HTTP_200_OK,
                "The protocol's success answer: applied now or before. (WeChat Pay v2 answers every notify with "
                "200, its failure answer included.)",
            ),
            **_protocol_answers(
                status.HTTP_400_BAD_REQUEST, "The protocol's failure answer: forged or unreadable, nothing changed."
            ),
            **_protocol_answers(
                status.HTTP_500_INTERNAL_SERVER_ERROR,
                "The protocol's failure answer: genuine but not applicable now; the channel sends it again later.",
            ),
        },
        errors=[errors.NotFound],
        parameters=[
            OpenApiParameter(
                "channel_code", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$", description="Our channel code."
            )
        ],
        summary="A channel's notify of a payment, refund or payout (signed by the channel)",
        description=(
            "For the channels, not for clients: no user credentials, the channel's signature authenticates it. "
            "The body and the answer are the channel's protocol (WeChat Pay JSON or XML, Alipay form, the bank's "
            "JSON). not_found (404) for a channel that does not exist or is not routed."
        ),
    )
    def post(self, request: Request, channel_code: str) -> HttpResponse:
        channel = Channel.objects.filter(code=channel_code).first()
        if channel is None or not registry.is_reachable(channel):
            raise errors.NotFound(_("No such channel."))
        http_request = request._request
        adapter = registry.adapter_for(channel)
        rejected = accepted = False
        try:
            notice = adapter.parse_notify(headers=http_request.headers, body=http_request.body)
        except NotifyRejected as exc:
            logger.warning("rejected a %s notify: %s", channel_code, exc)
            metrics.NOTIFY_REFUSED.labels(channel=channel_code, reason="not_genuine").inc()
            _rejected_record(channel, http_request, exc)
            rejected = True
        else:
            try:
                _apply(channel, notice)
                accepted = True
            except errors.ApplicationError as exc:
                logger.error("refused a %s notify: %s", channel_code, exc.message)
                metrics.NOTIFY_REFUSED.labels(channel=channel_code, reason=exc.code).inc()
        reply = adapter.notify_reply(accepted=accepted)
        code = status.HTTP_400_BAD_REQUEST if rejected else reply.status
        return HttpResponse(reply.body, status=code, content_type=reply.content_type)


def _rejected_record(channel: Channel, request: HttpRequest, exc: NotifyRejected) -> None:
    """An event per rejected notify, up to ``REJECTED_EVENTS_PER_MINUTE`` per channel: anyone
    can POST here, and events are kept for ever; past it they are only logged and counted."""
    if not rate_limiter().hit(REJECTED_EVENTS_PER_MINUTE, "notify-rejected-events", channel.code):
        return
    event_record(
        operation="notify",
        kind=PaymentEvent.Kind.NOTIFY,
        outcome=PaymentEvent.Outcome.REFUSED,
        channel=channel,
        payload={"content_type": request.content_type, "length": len(request.body)},
        message=f"not genuine: {exc}",
    )


def _apply(channel: Channel, notice: Notice) -> None:
    if isinstance(notice, PaymentStatus):
        payment_orders.payment_status_apply(channel=channel, status=notice, operation="notify")
    elif isinstance(notice, RefundStatus):
        refunds.refund_status_apply(channel=channel, status=notice, operation="notify", kind=PaymentEvent.Kind.NOTIFY)
    else:
        payouts.payout_notice_apply(channel_code=channel.code, notice=notice)
