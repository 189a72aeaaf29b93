"""User notifications of withdrawal outcomes: stored in the outcome's transaction, delivered by a
pluggable sender after commit (``NOTIFICATION_SENDER``; the default writes a log line)."""

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from payments.models import UserNotification

logger = logging.getLogger(__name__)


def notification_create(*, user: User, kind: str, reference: str, message: str) -> UserNotification:
    """One notification per event (kind, reference): a repeated outcome does not notify twice."""
    from payments import tasks

    notification, created = UserNotification.objects.get_or_create(
        kind=kind, reference=reference, defaults={"user": user, "message": message}
    )
    if created:
        transaction.on_commit(partial(tasks.notification_send.delay, notification.pk))
    return notification


def notification_deliver(*, notification_id: int) -> UserNotification:
    """Hand the notification to the configured sender once; a redelivered task sends nothing."""
    with transaction.atomic():
        notification = UserNotification.objects.select_for_update().get(pk=notification_id)
        if notification.sent_at is None:
            import_string(settings.NOTIFICATION_SENDER)(notification)
            notification.sent_at = timezone.now()
            notification.save(update_fields=["sent_at"])
    return notification


def log_sender(notification: UserNotification) -> None:
    """The default sender: a log line an SMS or push gateway can replace."""
    logger.info("notify user %s (%s): %s", notification.user_id, notification.kind, notification.message)
