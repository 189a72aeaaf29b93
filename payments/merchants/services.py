"""Merchant writes: creating a merchant and rotating its webhook secret (docs/MERCHANTS.md)."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from payments import encryption
from payments.merchants.models import Merchant
from wallet import errors
from wallet import services as ledger

SECRET_BYTES = 32


@dataclass(frozen=True)
class MerchantSecret:
    """A merchant and its new secret in clear: shown once to the staff member, never stored so."""

    merchant: Merchant
    secret: str


def secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(SECRET_BYTES)


@transaction.atomic
def merchant_create(*, code: str, name: str, service_user: User, notify_url: str = "") -> MerchantSecret:
    """A merchant with its own wallet account ``merchant:<code>`` and a fresh webhook secret."""
    if Merchant.objects.filter(service_user=service_user).exists():
        raise errors.Conflict("This user is already a merchant's service account.", fields={"service_user": "taken"})
    if Merchant.objects.filter(code=code).exists():
        raise errors.Conflict(f"A merchant {code!r} exists.", fields={"code": "taken"})
    secret = secret_new()
    merchant = Merchant(
        code=code,
        name=name,
        service_user=service_user,
        account=ledger.account_for_system(code=f"merchant:{code}"),
        notify_url=notify_url,
        webhook_secret_sealed=encryption.seal(secret, field=Merchant.SEALED_AS),
    )
    merchant.full_clean(exclude=["account", "service_user"])
    merchant.save()
    return MerchantSecret(merchant=merchant, secret=secret)


@transaction.atomic
def merchant_secret_rotate(*, merchant: Merchant) -> MerchantSecret:
    """A new secret signs from now on; the current one stays valid for
    ``MERCHANT_SECRET_OVERLAP_HOURS`` so the receiver can switch without losing a delivery."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    now = timezone.now()
    current = encryption.unseal(merchant.webhook_secret_sealed, field=Merchant.SEALED_AS)
    secret = secret_new()
    merchant.previous_webhook_secret_sealed = encryption.seal(current, field=Merchant.PREVIOUS_SEALED_AS)
    merchant.previous_secret_expires_at = now + timedelta(hours=settings.MERCHANT_SECRET_OVERLAP_HOURS)
    merchant.webhook_secret_sealed = encryption.seal(secret, field=Merchant.SEALED_AS)
    merchant.secret_rotated_at = now
    merchant.save()
    return MerchantSecret(merchant=merchant, secret=secret)
