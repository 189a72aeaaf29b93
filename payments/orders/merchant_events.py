"""What a merchant is told about its order payments and their refunds (docs/MERCHANTS.md,
"Events"): ``payments.signals.merchant_event``, sent inside the transaction that settled it, so
what a receiver writes commits with the settlement or not at all. Orders without a merchant
(recharges, order payments made before merchants) send nothing."""

from datetime import datetime

from payments.orders.models import PaymentOrder, Refund
from payments.signals import merchant_event

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_CLOSED = "payment.closed"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"


def payment_event_send(order: PaymentOrder, *, event: str) -> None:
    if order.merchant_id is None:
        return
    merchant_event.send(
        sender=PaymentOrder,
        merchant_id=order.merchant_id,
        event=event,
        notify_url=order.notify_url,
        data=payment_body(order),
    )


def refund_event_send(refund: Refund, *, order: PaymentOrder, event: str) -> None:
    if order.merchant_id is None:
        return
    merchant_event.send(
        sender=Refund,
        merchant_id=order.merchant_id,
        event=event,
        notify_url=order.notify_url,
        data=refund_body(refund, order=order),
    )


def payment_body(order: PaymentOrder) -> dict:
    return {
        "order_no": order.order_no,
        "business_order_no": order.business_order_no,
        "status": order.status,
        "amount": str(order.amount),
        "currency": order.currency,
        "subject": order.subject,
        "method": order.method,
        "transaction_id": order.transaction_id,
        "refunded_amount": str(order.refunded_amount),
        "created_at": _iso(order.created_at),
        "paid_at": _iso(order.paid_at),
        "finished_at": _iso(order.finished_at),
        "status_reason": order.status_reason,
    }


def refund_body(refund: Refund, *, order: PaymentOrder) -> dict:
    return {
        "refund_no": refund.refund_no,
        "order_no": order.order_no,
        "business_order_no": order.business_order_no,
        "status": refund.status,
        "amount": str(refund.amount),
        "currency": refund.currency,
        "reason": refund.reason,
        "failure_code": refund.failure_code,
        "status_reason": refund.status_reason,
        "created_at": _iso(refund.created_at),
        "finished_at": _iso(refund.finished_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
