"""Senders of user notifications: ``NOTIFICATION_SENDER`` names one (a dotted path)."""

import logging

from payments.notifications.models import UserNotification

logger = logging.getLogger(__name__)


def log_sender(notification: UserNotification) -> None:
    """The default sender: a log line an SMS or push gateway can replace. The line names the
    notification, not its text: the text tells amounts and accounts, which logs must not keep."""
    logger.info("notification %s to user %s (%s)", notification.pk, notification.user_id, notification.kind)
