"""The channels: their settings (a row per channel, kept in the admin) and the vocabulary the
rest of payments shares with them: payment methods, client types, payout account kinds and the
adapters that speak each channel's protocol."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wallet.models import money_field
from wallet.money import quantize


class PayoutAccountKind(models.TextChoices):
    WECHAT_OPENID = "wechat_openid", _("WeChat wallet (openid)")
    BANK_CARD = "bank_card", _("Bank card")
    ALIPAY = "alipay", _("Alipay account (login id)")


class ChannelAdapter(models.TextChoices):
    WECHAT_V3 = "wechat_v3", _("WeChat Pay v3")
    WECHAT_V2 = "wechat_v2", _("WeChat Pay v2 (legacy merchants)")
    BANK = "bank", _("Bank payout gateway")
    ALIPAY = "alipay", _("Alipay (RSA2)")


class PaymentMethod(models.TextChoices):
    """Mirrors ``channels.base.PaymentMethod``, the adapters' vocabulary."""

    WECHAT_JSAPI = "wechat_jsapi", _("WeChat JSAPI (inside WeChat)")
    WECHAT_APP = "wechat_app", _("WeChat in-app")
    WECHAT_H5 = "wechat_h5", _("WeChat H5 (mobile browser)")
    WECHAT_NATIVE = "wechat_native", _("WeChat native (QR code)")
    ALIPAY_APP = "alipay_app", _("Alipay in-app")
    ALIPAY_PAGE = "alipay_page", _("Alipay page (desktop)")
    ALIPAY_WAP = "alipay_wap", _("Alipay wap (mobile browser)")
    BALANCE = "balance", _("Wallet balance")


class ClientType(models.TextChoices):
    """Where the payer is: it decides which methods can work at all (``METHOD_CLIENT_TYPES``)."""

    APP = "app", _("Our mobile app")
    WEB = "web", _("Desktop browser")
    MOBILE_WEB = "mobile_web", _("Mobile browser")
    WECHAT = "wechat", _("Inside WeChat (official account, mini program)")


METHOD_CLIENT_TYPES: dict[str, tuple[str, ...]] = {
    PaymentMethod.WECHAT_JSAPI: (ClientType.WECHAT,),
    PaymentMethod.WECHAT_APP: (ClientType.APP,),
    PaymentMethod.WECHAT_H5: (ClientType.MOBILE_WEB,),
    PaymentMethod.WECHAT_NATIVE: (ClientType.WEB, ClientType.APP, ClientType.MOBILE_WEB),
    PaymentMethod.ALIPAY_APP: (ClientType.APP,),
    PaymentMethod.ALIPAY_PAGE: (ClientType.WEB,),
    PaymentMethod.ALIPAY_WAP: (ClientType.MOBILE_WEB, ClientType.WECHAT),
    PaymentMethod.BALANCE: tuple(ClientType.values),
}


class Channel(models.Model):
    """A payment channel's settings, kept by finance supervisors in the admin (operations switch
    it on and off); credentials live in the environment, never here."""

    code = models.SlugField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=64, verbose_name=_("name"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    # Which payout accounts the channel pays out to; blank for channels that only collect.
    payout_account_kind = models.CharField(
        max_length=16, choices=PayoutAccountKind.choices, blank=True, verbose_name=_("payout account kind")
    )
    # Which payment methods it collects by, for which clients; empty for channels that only pay out.
    payment_methods = ArrayField(
        models.CharField(max_length=16, choices=PaymentMethod.choices),
        default=list,
        blank=True,
        verbose_name=_("payment methods"),
    )
    client_types = ArrayField(
        models.CharField(max_length=16, choices=ClientType.choices),
        default=list,
        blank=True,
        verbose_name=_("client types"),
    )
    fee_rate = models.DecimalField(max_digits=7, decimal_places=6, default=Decimal("0.001"), verbose_name=_("fee rate"))
    fee_min = money_field(default=Decimal("0.10"), verbose_name=_("fee min"))
    fee_max = money_field(default=Decimal("5.00"), verbose_name=_("fee max"))
    min_amount = money_field(null=True, blank=True, verbose_name=_("min amount"))
    max_amount = money_field(null=True, blank=True, verbose_name=_("max amount"))
    # Lower wins between channels that cost the same.
    priority = models.PositiveSmallIntegerField(default=100, verbose_name=_("priority"))
    # Which adapter speaks to it (payments.channels.registry), and how many payout requests a
    # second all workers together may send it.
    adapter = models.CharField(max_length=16, choices=ChannelAdapter.choices, verbose_name=_("adapter"))
    rate_limit_per_second = models.PositiveIntegerField(default=50, verbose_name=_("rate limit per second"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        permissions = [("switch_channel", "Can switch channels on and off")]
        constraints = [
            models.CheckConstraint(condition=Q(fee_rate__gte=0) & Q(fee_rate__lt=1), name="channel_fee_rate_range"),
            models.CheckConstraint(
                condition=Q(fee_min__gte=0) & Q(fee_max__gte=F("fee_min")), name="channel_fee_bounds_ordered"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(max_amount__isnull=True) | Q(max_amount__gte=F("min_amount")),
                name="channel_amount_bounds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def fee_for(self, amount: Decimal) -> Decimal:
        """Rate times amount, rounded half up to cents, clamped to [fee_min, fee_max]."""
        return min(max(quantize(amount * self.fee_rate), self.fee_min), self.fee_max)

    def admits(self, amount: Decimal) -> bool:
        return (self.min_amount is None or amount >= self.min_amount) and (
            self.max_amount is None or amount <= self.max_amount
        )
