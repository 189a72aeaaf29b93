"""Celery tasks common to every capability of payments (each capability keeps its own tasks
beside its services)."""

from celery import shared_task

from payments.orders import services as order_services
from payments.withdrawals import payouts


@shared_task(name="payments.sweep_escalate")
def sweep_escalate() -> int:
    """Hourly: flag withdrawals, payment orders and refunds still not final after four hours."""
    orders, refund_count = order_services.payments_escalate()
    return payouts.withdrawals_escalate() + orders + refund_count
