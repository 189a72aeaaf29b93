"""Celery's queues, one per kind of work, the queue of every task (the one place that says where
a task goes), and what each kind of broker is told (docs/OPERATIONS.md, "Broker and queues").

A worker takes tasks from the queues it is given, so work of one kind waits only behind work of
the same kind: a flood of exports or webhook deliveries cannot hold back payouts when the two
are consumed by different workers. Settings turn this into Celery's ``task_queues`` and
``task_routes``; a task missing here is refused by a test rather than sent to a queue that
perhaps no worker reads.
"""

# Celery's own default name: a task sent before the queues were split, or by a name without a
# route, still lands where a worker reads.
DEFAULT = "celery"
PAYOUTS = "payouts"
PAYMENTS = "payments"
WEBHOOKS = "webhooks"
RECONCILIATION = "reconciliation"
EXPORTS = "exports"
# The channel sandbox's notifies: the channel's work, not ours, kept apart so a bench's or a
# demo's notifies never take the place of our own tasks. Empty wherever the sandbox is off.
SANDBOX = "sandbox"

QUEUES: tuple[str, ...] = (DEFAULT, PAYOUTS, PAYMENTS, WEBHOOKS, RECONCILIATION, EXPORTS, SANDBOX)

TASK_QUEUES: dict[str, str] = {
    # Payouts: calls to the channels at their rate limit.
    "payments.withdrawal_dispatch": PAYOUTS,
    "payments.withdrawal_check": PAYOUTS,
    # Payment orders, refunds and the users' notifications of both and of payouts.
    "payments.refund_send": PAYMENTS,
    "payments.refund_check": PAYMENTS,
    "payments.notification_send": PAYMENTS,
    # Merchants' webhooks: calls to servers we do not run, some slow or down.
    "payments.webhook_deliver": WEBHOOKS,
    # Checks of the books: long database reads, and channels' bills.
    "reconciliation.nightly": RECONCILIATION,
    "reconciliation.run_download": RECONCILIATION,
    "reconciliation.internal_nightly": RECONCILIATION,
    "reconciliation.order_check": RECONCILIATION,
    "wallet.ledger_audit_nightly": RECONCILIATION,
    # Export files: minutes each, on the volume the web servers serve them from.
    "wallet.export_job_process": EXPORTS,
    "wallet.export_jobs_purge": EXPORTS,
    # Sweeps find lost or stuck work and queue it again on its kind's queue: on the default
    # queue they keep running while any one kind's queue is flooded, which is when they count.
    "payments.sweep_approved": DEFAULT,
    "payments.sweep_processing": DEFAULT,
    "payments.sweep_escalate": DEFAULT,
    "payments.sweep_refunds": DEFAULT,
    "payments.sweep_expired_payments": DEFAULT,
    "payments.sweep_webhooks": DEFAULT,
    # Campaign rewards and red packets move money between our own accounts only: short
    # database work with no outside party, queued one task at a time or by beat.
    "wallet.campaign_rewards_credit": DEFAULT,
    "wallet.campaign_rewards_sweep": DEFAULT,
    "wallet.campaign_budgets_recount": DEFAULT,
    "wallet.redpackets_settle": DEFAULT,
    "wallet.redpackets_complete_grabs": DEFAULT,
    "sandbox.notify": SANDBOX,
    "sandbox.payment_notify": SANDBOX,
    "sandbox.refund_notify": SANDBOX,
}

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def transport_options(broker_url: str, *, hold_seconds: int) -> dict[str, object]:
    """RabbitMQ confirms each message it took, so a send returns only once a task queued on
    commit is safe; Redis gives a task held unacknowledged for ``hold_seconds`` to another worker."""
    if broker_url.partition("://")[0] in AMQP_SCHEMES:
        return {"confirm_publish": True}
    return {"visibility_timeout": hold_seconds}
