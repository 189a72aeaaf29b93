"""Delivery of user notifications, after the commit that created them."""

from celery import shared_task

from payments.notifications import services


@shared_task(name=services.SEND_TASK)
def notification_send(notification_id: int) -> None:
    services.notification_deliver(notification_id=notification_id)
