"""User notifications of money outcomes (withdrawals so far): stored in the outcome's transaction, delivered by a
pluggable sender after commit (``NOTIFICATION_SENDER``; the default writes a log line).

The product keeps no language per user, so the sender writes in the platform's, ``LANGUAGE_CODE``
(docs/OPERATIONS.md, "Languages")."""

from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from payments.notifications.models import UserNotification
from wallet.task_queue import task_enqueue

SEND_TASK = "payments.notification_send"


def notification_create(*, user: User, kind: str, reference: str, params: dict[str, str]) -> UserNotification:
    """One notification per event (kind, reference): a repeated outcome does not notify twice.
    ``params`` fill the kind's text (models.TEXTS); its English is kept beside them for the record."""
    with translation.override("en"):
        message = UserNotification(kind=kind, params=params).text()
    notification, created = UserNotification.objects.get_or_create(
        kind=kind, reference=reference, defaults={"user": user, "params": params, "message": message}
    )
    if created:
        transaction.on_commit(partial(task_enqueue, SEND_TASK, notification.pk))
    return notification


def notification_deliver(*, notification_id: int) -> UserNotification:
    """Hand the notification to the configured sender once; a redelivered task sends nothing."""
    with transaction.atomic():
        notification = UserNotification.objects.select_for_update().get(pk=notification_id)
        if notification.sent_at is None:
            with translation.override(settings.LANGUAGE_CODE):
                import_string(settings.NOTIFICATION_SENDER)(notification)
            notification.sent_at = timezone.now()
            notification.save(update_fields=["sent_at"])
    return notification
