"""The signals a merchant is told about through (payments.signals, wallet.signals), received in
the transaction that settled what they report: the outbox row commits with the settlement or not
at all. An error here is the settlement's error: a settlement must not commit without its webhook."""

from typing import Any

from payments.merchants.models import Merchant
from payments.webhooks import selectors, services


def merchant_event_receive(
    sender: type, *, merchant_id: int, event: str, notify_url: str, data: dict[str, Any], **kwargs: Any
) -> None:
    merchant = Merchant.objects.get(pk=merchant_id)
    services.webhook_event_create(merchant=merchant, type=event, data=data, notify_url=notify_url)


def red_packet_settled_receive(
    sender: type, *, sender_user_id: int, event: str, data: dict[str, Any], **kwargs: Any
) -> None:
    """A red packet a merchant's service account sent tells that merchant; any other is no one's business."""
    merchant = selectors.merchant_of_service_user(user_id=sender_user_id)
    if merchant is not None:
        services.webhook_event_create(merchant=merchant, type=event, data=data)
