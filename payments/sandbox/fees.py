"""What the sandbox's channels charge, recorded on each payment, refund and payout when its money
moves, so that their bills carry the fee (docs/RECONCILIATION.md, "The sandbox's bills").

The fee comes from the channel rows the back-office keeps (``Channel.fee_for``): the one that
collects through the protocol for payments, the one that pays out through it for payouts. Only
the bank charges for payouts: WeChat transfers are free and its fund flow has no fee column.
"""

from decimal import Decimal

from django.db.models import Q

from payments.channels.models import Channel
from payments.sandbox.models import Protocol, SandboxPayment
from wallet.money import ZERO, quantize

PAYOUT_FEE_PROTOCOLS = frozenset({Protocol.BANK})


def collecting_channel(protocol: str) -> Channel | None:
    """The first in priority of the channel rows that collect payments through ``protocol``."""
    return Channel.objects.filter(adapter=protocol).exclude(Q(payment_methods=[])).order_by("priority", "id").first()


def payment_fee(*, protocol: str, amount: Decimal) -> Decimal:
    channel = collecting_channel(protocol)
    return channel.fee_for(amount) if channel is not None else ZERO


def refund_fee(*, payment: SandboxPayment, amount: Decimal) -> Decimal:
    """The share of the payment's fee the refund gives back, negative; rounded half up to cents."""
    return ZERO - quantize(payment.fee * amount / payment.amount)


def payout_fee(*, protocol: str, amount: Decimal) -> Decimal:
    """The fee of a payout that was paid; payouts that fail are charged nothing."""
    if protocol not in PAYOUT_FEE_PROTOCOLS:
        return ZERO
    channel = (
        Channel.objects.filter(adapter=protocol).exclude(payout_account_kind="").order_by("priority", "id").first()
    )
    return channel.fee_for(amount) if channel is not None else ZERO
