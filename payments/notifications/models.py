"""What we told users about their money."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class UserNotification(models.Model):
    """What we told a user about their money; ``sent_at`` is set once the sender delivered it.

    The kind and its facts (``params``) are stored, not sentences: ``text()`` writes it in the
    language active where it is read (the staff member's in the admin, the sender's), so one row
    speaks every language of the product (docs/OPERATIONS.md, "Languages"). ``message`` keeps the
    English text as written at the time, for the record."""

    class Kind(models.TextChoices):
        WITHDRAWAL_SUCCEEDED = "withdrawal_succeeded", _("Withdrawal paid out")
        WITHDRAWAL_FAILED = "withdrawal_failed", _("Withdrawal failed")
        WITHDRAWAL_RETURNED = "withdrawal_returned", _("Withdrawal returned by the bank")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications", verbose_name=_("user")
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    reference = models.CharField(max_length=64, verbose_name=_("reference"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("params"))
    message = models.CharField(max_length=500, verbose_name=_("message"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("user notification")
        verbose_name_plural = _("user notifications")
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"

    def text(self) -> str:
        """The notification in the active language; rows from before ``params`` keep their English."""
        if not self.params:
            return self.message
        return str(TEXTS[self.kind]) % self.params


# What each kind says; the placeholders are the keys of ``params``.
TEXTS: dict[str, Promise] = {
    UserNotification.Kind.WITHDRAWAL_SUCCEEDED: _("Your withdrawal %(order_no)s of %(amount)s has been paid out."),
    UserNotification.Kind.WITHDRAWAL_FAILED: _("Your withdrawal %(order_no)s failed (%(code)s); %(amount)s is back."),
    UserNotification.Kind.WITHDRAWAL_RETURNED: _(
        "Your withdrawal %(order_no)s was returned by the bank; %(amount)s is back."
    ),
}
