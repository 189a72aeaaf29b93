"""What we told users about their money."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class UserNotification(models.Model):
    """What we told a user about their money; ``sent_at`` is set once the sender delivered it."""

    class Kind(models.TextChoices):
        WITHDRAWAL_SUCCEEDED = "withdrawal_succeeded", "Withdrawal paid out"
        WITHDRAWAL_FAILED = "withdrawal_failed", "Withdrawal failed"
        WITHDRAWAL_RETURNED = "withdrawal_returned", "Withdrawal returned by the bank"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference = models.CharField(max_length=64)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"
