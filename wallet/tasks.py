"""Celery tasks of the ledger: thin wrappers around services and audits."""

import logging

from celery import shared_task

from wallet.audit import audit_full_due, ledger_audit_run

logger = logging.getLogger(__name__)


@shared_task(name="wallet.ledger_audit_nightly")
def ledger_audit_nightly() -> int:
    """Check every ledger invariant; each violation is logged as an error for alerting.

    Reads only what is new since the last checkpoint, and the whole ledger once a week
    (``FULL_AUDIT_EVERY``), so its time follows a day's postings, not the ledger's size."""
    run = ledger_audit_run(full=audit_full_due())
    for violation in run.violations:
        logger.error("ledger invariant violated: %s", violation)
    if run.waited_for:
        logger.warning("ledger audit checkpoint kept: transactions still writing (pids %s)", run.waited_for)
    if not run.violations:
        logger.info("ledger audit clean (%s)", "full" if run.full else f"entries after {run.checked_after}")
    return len(run.violations)
