"""What a client may tell its user about a payment order or a refund (docs/PAYMENTS.md,
"Status codes")."""

from django.utils.translation import gettext_lazy as _

from payments.channels.models import PaymentMethod
from payments.orders.models import PaymentOrder, PaymentOrderStatus, Refund, RefundStatus
from wallet.reasons import StatusCatalogue

_ORDER_BY_STATUS = {
    PaymentOrderStatus.PENDING: "opening",
    PaymentOrderStatus.PAYING: "awaiting_payment",
    PaymentOrderStatus.SUCCESS: "paid",
    PaymentOrderStatus.FAILED: "channel_refused",
    PaymentOrderStatus.CLOSED: "closed",
    PaymentOrderStatus.REVERSED: "reversed",
}


def payment_order_status_code(order: PaymentOrder) -> str:
    """An awaiting order that a channel gave back (its reason set by ``give_back``) asks the
    payer to choose again; a balance payment is never waiting for the payer."""
    if order.status == PaymentOrderStatus.AWAITING:
        return "choose_again" if order.status_reason else "awaiting_method"
    if order.status == PaymentOrderStatus.PAYING and order.method == PaymentMethod.BALANCE:
        return "processing"
    return _ORDER_BY_STATUS[PaymentOrderStatus(order.status)]


PAYMENT_ORDER_STATUS = StatusCatalogue(
    code_of=payment_order_status_code,
    messages={
        "awaiting_method": _("Waiting for the payer to choose how to pay."),
        "choose_again": _("The payment channel did not take this payment; choose how to pay again."),
        "opening": _("Being opened at the payment channel."),
        "awaiting_payment": _("Waiting for the payment to be completed."),
        "processing": _("The payment is being processed."),
        "paid": _("Paid."),
        "channel_refused": _("The payment channel refused this payment; nothing was charged."),
        "closed": _("Closed unpaid: it expired or was closed before it was paid; nothing was charged."),
        "reversed": _("The payment channel never collected this payment, so it was taken back."),
    },
)

_REFUND_BY_STATUS = {
    RefundStatus.PENDING: "requested",
    RefundStatus.PROCESSING: "processing",
    RefundStatus.SUCCESS: "refunded",
    RefundStatus.FAILED: "refund_failed",
}


def refund_status_code(refund: Refund) -> str:
    return _REFUND_BY_STATUS[RefundStatus(refund.status)]


REFUND_STATUS = StatusCatalogue(
    code_of=refund_status_code,
    messages={
        "requested": _("Requested; about to be sent to the payment channel."),
        "processing": _("The payment channel is processing the refund."),
        "refunded": _("Refunded to where the payment came from."),
        "refund_failed": _("The refund failed; the amount stays with the merchant."),
    },
)
