"""Tasks that kept failing after their retries (docs/PAYOUTS.md): kept for operations to look
at and retry."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeadLetter(models.Model):
    """A task that kept failing after its retries: operations look at it and retry it (docs/ARCHITECTURE.md §7)."""

    task = models.CharField(max_length=128, verbose_name=_("task"))
    args = models.JSONField(default=list, verbose_name=_("args"))
    withdrawal = models.ForeignKey(
        "payments.Withdrawal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dead_letters",
        verbose_name=_("withdrawal"),
    )
    error = models.TextField(verbose_name=_("error"))
    attempts = models.PositiveSmallIntegerField(verbose_name=_("attempts"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    retried_at = models.DateTimeField(null=True, blank=True, verbose_name=_("retried at"))
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("retried by"),
    )

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        permissions = [("retry_deadletter", "Can retry dead letters")]
        indexes = [models.Index(fields=["retried_at", "created_at"], name="dead_letter_open_idx")]

    def __str__(self) -> str:
        return f"{self.task}{self.args}"
