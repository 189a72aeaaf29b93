"""Prometheus counters of the events the apps see, exported at ``/metrics`` (docs/OPERATIONS.md,
"Metrics, alerts and probes").

Counters count where the event happens; levels that a query can read (queues, dead letters, open
discrepancies) are read at scrape time instead (config.observability.collector). With
``PROMETHEUS_MULTIPROC_DIR`` set, every gunicorn and Celery process writes its own files there
and the scrape sums them; without it (tests, a shell) they live in this process.
"""

from prometheus_client import Counter, Gauge, Histogram

NOTIFY_REFUSED = Counter(
    "wallet_notify_refused",
    "Channel notifies that changed nothing: not genuine (rejected) or refused by the order's rules.",
    ["channel", "reason"],
)
PAYMENT_ANOMALIES = Counter(
    "wallet_payment_anomalies",
    "Payment and refund answers refused, contradicting or failing to apply, by kind.",
    ["kind"],
)
WITHDRAWALS_FINISHED = Counter(
    "wallet_withdrawals_finished",
    "Withdrawals the channel finished, by outcome and the channel's reason code.",
    ["status", "reason"],
)
PAYOUT_LATENCY = Histogram(
    "wallet_payout_latency_seconds",
    "From approval to the channel's final answer, of withdrawals paid out.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, float("inf")),
)
PAYOUT_RATE_LIMITED = Counter(
    "wallet_payout_rate_limited",
    "Payout sends re-queued because the channel's rate was used up.",
    ["channel"],
)
WITHDRAWALS_ESCALATED = Counter(
    "wallet_withdrawals_escalated",
    "Withdrawals flagged as not final four hours after submission.",
)
WEBHOOK_FAILURES = Counter(
    "wallet_webhook_failures",
    "Merchant webhook failures: each failed attempt, and each event whose round ended failed.",
    ["stage"],
)
RECONCILIATION_BILL_MISSING = Counter(
    "wallet_reconciliation_bill_missing",
    "Reconciliation runs failed because the channel never published its bill.",
)
# Set by the sweeps (a query too heavy for a scrape); the latest value of any process wins.
STUCK = Gauge(
    "wallet_stuck",
    "Payment orders and refunds not final four hours after creation, as the hourly sweep found them.",
    ["kind"],
    multiprocess_mode="mostrecent",
)
INTERNAL_DIFFERENCES = Gauge(
    "wallet_internal_differences",
    "Differences the nightly internal reconciliation found between the ledger and the orders.",
    multiprocess_mode="mostrecent",
)
