"""Senders of user notifications: ``NOTIFICATION_SENDER`` names one (a dotted path)."""

import logging

from payments.notifications.models import UserNotification

logger = logging.getLogger(__name__)


def log_sender(notification: UserNotification) -> None:
    """The default sender: a log line an SMS or push gateway can replace, in the active language."""
    logger.info("notify user %s (%s): %s", notification.user_id, notification.kind, notification.text())
