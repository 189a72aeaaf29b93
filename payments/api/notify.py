"""``POST /api/v1/notify/<channel>/``: channels' asynchronous notifies (DESIGN §6, §9).

No user authentication: the channel's signature is the authentication, verified by its adapter
before anything is read. A forged, unreadable or contradicting notify changes nothing, is logged
and counted (metrics ``notify_rejected`` / ``notify_refused``), and gets the protocol's failure
reply; a genuine one is applied idempotently, so the channel's retries and duplicates are safe.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import metrics, payouts
from payments.channels import registry
from payments.channels.base import NotifyRejected
from payments.models import Channel
from wallet.errors import ApplicationError

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def payout_notify(request: HttpRequest, channel_code: str) -> HttpResponse:
    channel = Channel.objects.filter(code=channel_code).first()
    if channel is None:
        return HttpResponse(status=404)
    adapter = registry.payout_adapter(channel)
    accepted = False
    try:
        notice = adapter.parse_payout_notify(headers=request.headers, body=request.body)
    except NotifyRejected as exc:
        logger.warning("rejected a %s notify: %s", channel_code, exc)
        metrics.increment("notify_rejected")
    else:
        try:
            payouts.payout_notice_apply(channel_code=channel.code, notice=notice)
            accepted = True
        except ApplicationError as exc:
            logger.error("refused a %s notify for %s: %s", channel_code, notice.order_no, exc.message)
            metrics.increment("notify_refused")
    reply = adapter.notify_reply(accepted=accepted)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
