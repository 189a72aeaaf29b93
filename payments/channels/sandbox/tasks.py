"""The sandbox's async notifies, sent by Celery like a channel's own notify service."""

import logging

import requests
from celery import shared_task

from payments.channels.sandbox import engine
from payments.channels.sandbox.keys import keys_for
from payments.channels.sandbox.models import SandboxPayout
from payments.channels.sandbox.protocols import protocol_module

logger = logging.getLogger(__name__)
NOTIFY_TIMEOUT = 10
# A channel notifies again when the merchant does not acknowledge; the sandbox a few times.
NOTIFY_ATTEMPTS = 4


@shared_task(name="sandbox.notify", bind=True, max_retries=NOTIFY_ATTEMPTS - 1)
def sandbox_notify(self, payout_id: int, state: str) -> None:
    """Settle the payout into ``state`` if it is not there yet, then notify it."""
    payout = SandboxPayout.objects.get(pk=payout_id)
    if payout.state != state:
        payout = engine.payout_settle(payout_id=payout_id, state=state)
    built = protocol_module(payout.protocol).notify_build(payout, keys_for(payout.protocol))
    if built is None or not payout.notify_url:
        return
    headers, body = built
    try:
        response = requests.post(payout.notify_url, data=body, headers=headers, timeout=NOTIFY_TIMEOUT)
        acknowledged = response.status_code < 300
    except requests.RequestException as exc:
        logger.info("sandbox notify of %s not delivered: %s", payout.order_no, type(exc).__name__)
        acknowledged = False
    if not acknowledged:
        raise self.retry(countdown=2 ** (self.request.retries + 1))
