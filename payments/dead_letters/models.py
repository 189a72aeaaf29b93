"""Tasks that kept failing after their retries (docs/PAYOUTS.md): kept for operations to look
at and retry."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class DeadLetter(models.Model):
    """A task that kept failing after its retries: operations look at it and retry it (docs/ARCHITECTURE.md §7)."""

    task = models.CharField(max_length=128)
    args = models.JSONField(default=list)
    withdrawal = models.ForeignKey(
        "payments.Withdrawal", null=True, blank=True, on_delete=models.PROTECT, related_name="dead_letters"
    )
    error = models.TextField()
    attempts = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    retried_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        permissions = [("retry_deadletter", "Can retry dead letters")]
        indexes = [models.Index(fields=["retried_at", "created_at"], name="dead_letter_open_idx")]

    def __str__(self) -> str:
        return f"{self.task}{self.args}"
