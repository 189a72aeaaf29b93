"""A user's payment password (docs/WALLET.md, "Payment password"): the second secret asked for
whenever money leaves a wallet, kept apart from the account password."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PaymentPassword(models.Model):
    """The hash (Django's password hashers) and the count of wrong tries since the last good one.

    ``failed_attempts`` and ``locked_until`` are changed only under a row lock
    (wallet.payment_password.services), so parallel wrong tries are counted one by one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_password", verbose_name=_("user")
    )
    password = models.CharField(max_length=128, verbose_name=_("password hash"))
    failed_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("failed attempts"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("locked until"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("payment password")
        verbose_name_plural = _("payment passwords")
        constraints = [
            models.CheckConstraint(condition=~Q(password=""), name="payment_password_hash_not_blank"),
        ]

    def __str__(self) -> str:
        return f"payment password of user #{self.user_id}"
