"""Celery sweeps of red packets: thin loops over ids that call the services, each safe to run
twice (every service checks the state under its row lock)."""

import logging
from datetime import timedelta

from celery import shared_task

from wallet.redpackets import selectors, services

logger = logging.getLogger(__name__)

BATCH = 500
# A claim commits with its posting, so an unpaid share is never a grab still in flight; the
# margin only keeps the sweep off rows a moment old.
UNPAID_AFTER = timedelta(minutes=1)


@shared_task(name="wallet.redpackets_settle")
def redpackets_settle() -> int:
    """Every 10 minutes: refund the remainder of packets past expiry to their senders, and
    finish packets whose last grab did not; how many were settled."""
    settled = 0
    for packet_id in selectors.packets_due_to_finish(limit=BATCH):
        services.redpacket_finish_if_done(packet_id=packet_id)
        settled += 1
    for packet_id in selectors.packets_due_to_expire(limit=BATCH):
        services.redpacket_expire(packet_id=packet_id)
        settled += 1
    return settled


@shared_task(name="wallet.redpackets_complete_grabs")
def redpackets_complete_grabs() -> int:
    """Every 30 minutes: post the shares claimed without a posting, and put back into Redis the
    shares a grab lost between its pop and its commit; how many shares were posted."""
    paid = 0
    for share_id in selectors.shares_unpaid(older_than=UNPAID_AFTER, limit=BATCH):
        services.redpacket_share_pay(share_id=share_id)
        paid += 1
    if paid:
        logger.warning("red packets: posted %s claimed shares that had no posting", paid)
    after = 0
    while packet_ids := selectors.packets_open(after_id=after, limit=BATCH):
        for packet_id in packet_ids:
            if services.redpacket_store_repair(packet_id=packet_id):
                logger.warning("red packet %s: Redis list reloaded, shares were missing", packet_id)
        after = packet_ids[-1]
    return paid
