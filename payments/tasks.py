"""Celery tasks of the payments app: thin wrappers that take ids and call services."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="payments.withdrawal_dispatch")
def withdrawal_dispatch(withdrawal_id: int) -> None:
    """Hand an approved withdrawal to its payout channel.

    Enqueued on commit of every approval. The channel adapters, rate limits and retries that
    send the payout are issue 4; until they land the order stays ``approved`` (still
    cancellable by its owner), and issue 4's sweep re-enqueues it.
    """
    logger.info("withdrawal %s approved; waiting for the payout pipeline (issue 4)", withdrawal_id)
