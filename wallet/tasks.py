"""Celery tasks of the ledger: thin wrappers around services and audits."""

import logging

from celery import shared_task

from wallet.audit import ledger_audit

logger = logging.getLogger(__name__)


@shared_task(name="wallet.ledger_audit_nightly")
def ledger_audit_nightly() -> int:
    """Check every ledger invariant; each violation is logged as an error for alerting."""
    violations = ledger_audit()
    for violation in violations:
        logger.error("ledger invariant violated: %s", violation)
    if not violations:
        logger.info("ledger audit clean")
    return len(violations)
