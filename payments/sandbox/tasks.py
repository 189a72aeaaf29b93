"""The sandbox's async notifies, sent by Celery like a channel's own notify service.

Protocol modules build them (see protocols.py) and say what acknowledges one in their
protocol; a notify the merchant does not acknowledge is sent again a few times, with growing
pauses.
"""

import logging
from types import ModuleType

import requests
from celery import shared_task

from payments.sandbox import engine, payment_engine
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxPayment, SandboxPayout, SandboxRefund
from payments.sandbox.protocols import protocol_module

logger = logging.getLogger(__name__)
NOTIFY_TIMEOUT = 10
# A channel notifies again when the merchant does not acknowledge; the sandbox a few times.
NOTIFY_ATTEMPTS = 4


@shared_task(name=engine.NOTIFY_TASK, bind=True, max_retries=NOTIFY_ATTEMPTS - 1)
def sandbox_notify(self, payout_id: int, state: str) -> None:
    """Settle the payout into ``state`` if it is not there yet, then notify it."""
    payout = SandboxPayout.objects.get(pk=payout_id)
    if payout.state != state:
        payout = engine.payout_settle(payout_id=payout_id, state=state)
    protocol = protocol_module(payout.protocol)
    built = protocol.notify_build(payout, keys_for(payout.protocol))
    if built is not None and payout.notify_url and not _deliver(protocol, payout.notify_url, built, payout.order_no):
        raise self.retry(countdown=2 ** (self.request.retries + 1))


@shared_task(name=payment_engine.PAYMENT_NOTIFY_TASK, bind=True, max_retries=NOTIFY_ATTEMPTS - 1)
def sandbox_payment_notify(self, payment_id: int, variant: str) -> None:
    """The payer pays if they have not yet (a late payer), then the payment is notified in the
    ``variant`` the scenario asked for; a payment closed meanwhile is not notified."""
    payment = payment_engine.payment_pay(payment_id=payment_id)
    if payment.state != SandboxPayment.State.PAID or not payment.notify_url:
        return
    protocol = protocol_module(payment.protocol)
    built = protocol.payment_notify_build(
        payment,
        keys_for(payment.protocol),
        amount=payment_engine.notify_amount(payment, variant),
        forged=variant == payment_engine.NotifyVariant.BAD_SIGNATURE,
    )
    # A channel gives up on a notify the merchant refuses; a refused wrong one is not resent.
    delivered = _deliver(protocol, payment.notify_url, built, payment.order_no)
    if not delivered and variant == payment_engine.NotifyVariant.GENUINE:
        raise self.retry(countdown=2 ** (self.request.retries + 1))


@shared_task(name=payment_engine.REFUND_NOTIFY_TASK, bind=True, max_retries=NOTIFY_ATTEMPTS - 1)
def sandbox_refund_notify(self, refund_id: int, state: str) -> None:
    """Settle the refund into ``state`` if still processing, then notify it (where the protocol
    notifies refunds)."""
    refund = payment_engine.refund_settle(refund_id=refund_id, state=state)
    if refund.state == SandboxRefund.State.PROCESSING or not refund.notify_url:
        return
    protocol = protocol_module(refund.protocol)
    built = protocol.refund_notify_build(refund, keys_for(refund.protocol))
    if built is not None and not _deliver(protocol, refund.notify_url, built, refund.refund_no):
        raise self.retry(countdown=2 ** (self.request.retries + 1))


def _deliver(protocol: ModuleType, url: str, built: tuple[dict[str, str], bytes], reference: str) -> bool:
    """POST the notify; True when the merchant acknowledged it as the protocol demands."""
    headers, body = built
    try:
        response = requests.post(url, data=body, headers=headers, timeout=NOTIFY_TIMEOUT)
    except requests.RequestException as exc:
        logger.info("sandbox notify of %s not delivered: %s", reference, type(exc).__name__)
        return False
    return bool(protocol.notify_acknowledged(response.status_code, response.content))
