"""Merchants: the business systems that sell to wallet users (docs/MERCHANTS.md).

A merchant is a service account (the Django user its server authenticates as), a wallet
account of its own that its order payments settle to, and where and how it is told about them:
a webhook URL and an HMAC secret. Secrets are sealed at rest (payments.encryption); during a
rotation the previous one stays valid until ``previous_secret_expires_at``, so the receiver can
switch without losing a delivery.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments import encryption

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,31}$"


class Merchant(models.Model):
    # Associated data of the sealed secrets: a ciphertext moved to another column fails to open.
    SEALED_AS = "merchant.webhook_secret"
    PREVIOUS_SEALED_AS = "merchant.previous_webhook_secret"

    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[RegexValidator(CODE_PATTERN, "2 to 32 lower-case letters, digits, - or _.")],
        help_text="Short public name; its wallet account is merchant:<code>.",
        verbose_name=_("code"),
    )
    name = models.CharField(max_length=128, verbose_name=_("name"))
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant", verbose_name=_("service user")
    )
    account = models.OneToOneField(
        "wallet.Account", on_delete=models.PROTECT, related_name="merchant", verbose_name=_("account")
    )
    notify_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Where webhooks go unless an order names another.",
        verbose_name=_("notify url"),
    )
    webhook_secret_sealed = models.TextField(verbose_name=_("webhook secret sealed"))
    previous_webhook_secret_sealed = models.TextField(blank=True, verbose_name=_("previous webhook secret sealed"))
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("previous secret expires at")
    )
    secret_rotated_at = models.DateTimeField(default=timezone.now, verbose_name=_("secret rotated at"))
    is_active = models.BooleanField(
        default=True, help_text="An inactive merchant cannot create payments.", verbose_name=_("is active")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=CODE_PATTERN), name="merchant_code_format"),
            models.CheckConstraint(
                condition=Q(previous_webhook_secret_sealed="", previous_secret_expires_at__isnull=True)
                | (~Q(previous_webhook_secret_sealed="") & Q(previous_secret_expires_at__isnull=False)),
                name="merchant_previous_secret_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def signing_secrets(self, *, now=None) -> list[str]:
        """The secrets a webhook is signed with, newest first: the previous one only until it expires."""
        now = now or timezone.now()
        secrets = [encryption.unseal(self.webhook_secret_sealed, field=self.SEALED_AS)]
        expires = self.previous_secret_expires_at
        if self.previous_webhook_secret_sealed and expires is not None and expires > now:
            secrets.append(encryption.unseal(self.previous_webhook_secret_sealed, field=self.PREVIOUS_SEALED_AS))
        return secrets
