"""Merchant writes: creating a merchant, rotating its webhook secret, creating its order payments
(docs/MERCHANTS.md)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments import encryption, public_urls
from payments.merchants.models import Merchant
from payments.orders.models import BusinessType, PaymentOrder
from payments.orders.services import order_create
from wallet import errors
from wallet import services as ledger
from wallet.idempotency import idempotency_key_normalise, idempotent_replay
from wallet.money import is_positive_cents

SECRET_BYTES = 32
# How long a merchant's order may wait for its payer.
MIN_EXPIRY_MINUTES = 1
MAX_EXPIRY_MINUTES = 24 * 60


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
        raise errors.Conflict(_("This user is already a merchant's service account."), fields={"service_user": "taken"})
    if Merchant.objects.filter(code=code).exists():
        raise errors.Conflict(_("A merchant %(code)s exists.") % {"code": repr(code)}, fields={"code": "taken"})
    notify_url_check(notify_url)
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


@dataclass(frozen=True)
class MerchantPayment:
    order: PaymentOrder
    created: bool  # False: the same request again (same key, or same terms for the same business order)


def merchant_payment_create(
    *,
    merchant: Merchant,
    business_order_no: str,
    amount: Decimal,
    subject: str,
    payer: str,
    idempotency_key: str,
    expires_in_minutes: int | None = None,
    notify_url: str = "",
) -> MerchantPayment:
    """The merchant's server creates the payment of its order ``business_order_no`` for the user
    ``payer`` (a username): ``awaiting`` until the payer chooses how to pay (``payment_order_pay``),
    at the merchant's amount, closed unpaid by the expiry sweep after ``expires_in_minutes``.

    The merchant's key with the same terms returns the first order, with others is an
    ``IdempotencyConflict``. One live (not failed or closed) order per business order: the same
    terms under another key return it; other terms are a ``Conflict`` naming its ``order_no``.
    """
    key = idempotency_key_normalise(idempotency_key)
    if not merchant.is_active:
        raise errors.PermissionDenied(_("This merchant is inactive: it cannot create payments."))
    terms = _payment_terms(
        business_order_no=business_order_no,
        amount=amount,
        subject=subject,
        expires_in_minutes=settings.PAYMENT_ORDER_TTL_MINUTES if expires_in_minutes is None else expires_in_minutes,
        notify_url=notify_url,
    )
    fingerprint = hashlib.sha256(
        "|".join(
            [terms["business_order_no"], str(amount), terms["subject"], payer, str(terms["ttl"]), notify_url]
        ).encode()
    ).hexdigest()
    replay = _payment_replay(merchant=merchant, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    payer_user = _payer(merchant=merchant, username=payer)
    live = _live_order(merchant=merchant, business_order_no=terms["business_order_no"], fingerprint=fingerprint)
    if live is not None:
        return live
    try:
        return MerchantPayment(
            order=_awaiting_order_create(
                merchant=merchant, payer=payer_user, terms=terms, key=key, fingerprint=fingerprint
            ),
            created=True,
        )
    except IntegrityError:
        # A concurrent request took the key or the business order meanwhile: answer as it would now.
        replay = _payment_replay(merchant=merchant, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay
        live = _live_order(merchant=merchant, business_order_no=terms["business_order_no"], fingerprint=fingerprint)
        if live is not None:
            return live
        raise


@transaction.atomic(durable=True)
def _awaiting_order_create(*, merchant: Merchant, payer: User, terms: dict, key: str, fingerprint: str) -> PaymentOrder:
    return order_create(
        {
            "user": payer,
            "business_type": BusinessType.ORDER_PAYMENT,
            "business_order_no": terms["business_order_no"],
            "subject": terms["subject"],
            "amount": terms["amount"],
            "idempotency_key": key,
            "request_fingerprint": fingerprint,
        },
        merchant=merchant,
        merchant_account_id=merchant.account_id,
        notify_url=terms["notify_url"],
        status=PaymentOrder.Status.AWAITING,
        expires_at=timezone.now() + timedelta(minutes=terms["ttl"]),
        by=merchant.service_user,
    )


def _payment_terms(
    *, business_order_no: str, amount: Decimal, subject: str, expires_in_minutes: int, notify_url: str
) -> dict:
    business_order_no = (business_order_no or "").strip()
    subject = (subject or "").strip()
    if not business_order_no or len(business_order_no) > 64:
        raise errors.ValidationFailed(
            _("The business order number is 1 to 64 characters."), fields={"business_order_no": "invalid"}
        )
    if not subject or len(subject) > 128:
        raise errors.ValidationFailed(_("The subject is 1 to 128 characters."), fields={"subject": "invalid"})
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    notify_url_check(notify_url)
    if not MIN_EXPIRY_MINUTES <= expires_in_minutes <= MAX_EXPIRY_MINUTES:
        raise errors.ValidationFailed(
            _("An order expires in %(min_expiry_minutes)s to %(max_expiry_minutes)s minutes.")
            % {"min_expiry_minutes": MIN_EXPIRY_MINUTES, "max_expiry_minutes": MAX_EXPIRY_MINUTES},
            fields={"expires_in_minutes": "out_of_range"},
        )
    return {
        "business_order_no": business_order_no,
        "subject": subject,
        "amount": amount,
        "ttl": expires_in_minutes,
        "notify_url": notify_url,
    }


def notify_url_check(url: str) -> None:
    """A notify URL webhooks may go to: http or https, no credentials, no non-public address
    written in it (payments.public_urls; its host's addresses are checked at each delivery)."""
    try:
        public_urls.notify_url_validate(url)
    except ValidationError as refused:
        raise errors.ValidationFailed(" ".join(refused.messages), fields={"notify_url": "url_refused"}) from refused


def _payer(*, merchant: Merchant, username: str) -> User:
    payer = User.objects.filter(username=username, is_active=True).first()
    if payer is None or payer.pk == merchant.service_user_id:
        raise errors.ValidationFailed(_("No such payer."), fields={"payer": "unknown"})
    return payer


def _live_order(*, merchant: Merchant, business_order_no: str, fingerprint: str) -> MerchantPayment | None:
    live = (
        PaymentOrder.objects.select_related("channel", "user")
        .filter(merchant=merchant, business_order_no=business_order_no, status__in=PaymentOrder.LIVE_STATUSES)
        .first()
    )
    if live is None:
        return None
    if live.request_fingerprint != fingerprint:
        raise errors.Conflict(
            _("Business order %(business_order_no)s already has a payment that is %(status)s: %(order_no)s.")
            % {"business_order_no": repr(business_order_no), "status": live.status, "order_no": live.order_no},
            fields={"business_order_no": "payment_exists", "order_no": live.order_no},
        )
    return MerchantPayment(order=live, created=False)


def _payment_replay(*, merchant: Merchant, key: str, fingerprint: str) -> MerchantPayment | None:
    previous = idempotent_replay(
        PaymentOrder.objects.select_related("channel", "user").filter(merchant=merchant),
        key=key,
        fingerprint=fingerprint,
        what="payment",
    )
    return None if previous is None else MerchantPayment(order=previous, created=False)
