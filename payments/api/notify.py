"""``POST /api/v1/notify/<channel>/``: channels' asynchronous notifies (DESIGN §6, §9).

No user authentication: the channel's signature is the authentication, verified by its adapter
before anything is read. One URL per channel takes all of its notifies (payouts, payments,
refunds); the adapter says which it is. A forged, unreadable or contradicting notify changes
nothing, is logged, counted (metrics ``notify_rejected`` / ``notify_refused``) and, for
payments and refunds, stored as a refused event; it gets the protocol's failure reply. A
genuine one is applied idempotently, so the channel's retries and duplicates are safe.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from limits import RateLimitItemPerMinute

from payments import metrics, payment_orders, payouts, refunds
from payments.channels import registry
from payments.channels.base import Notice, NotifyRejected, PaymentStatus, RefundStatus
from payments.models import Channel, PaymentEvent
from payments.payment_events import event_record
from wallet.api.throttles import rate_limiter
from wallet.errors import ApplicationError

logger = logging.getLogger(__name__)

REJECTED_EVENTS_PER_MINUTE = RateLimitItemPerMinute(60)


@csrf_exempt
@require_POST
def channel_notify(request: HttpRequest, channel_code: str) -> HttpResponse:
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None or not registry.is_reachable(channel):
        return HttpResponse(status=404)
    adapter = registry.adapter_for(channel)
    accepted = False
    try:
        notice = adapter.parse_notify(headers=request.headers, body=request.body)
    except NotifyRejected as exc:
        logger.warning("rejected a %s notify: %s", channel_code, exc)
        metrics.increment("notify_rejected")
        _rejected_record(channel, request, exc)
    else:
        try:
            _apply(channel, notice)
            accepted = True
        except ApplicationError as exc:
            logger.error("refused a %s notify: %s", channel_code, exc.message)
            metrics.increment("notify_refused")
    reply = adapter.notify_reply(accepted=accepted)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


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
