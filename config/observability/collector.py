"""Levels read at scrape time: review queues, withdrawals not final, what needs attention,
Celery's queues (on Redis or RabbitMQ) and whether the database and the broker answer.

Each figure is one of the dashboard's index-backed aggregates (config.dashboard.selectors), so
a scrape every 15 s costs a few milliseconds whatever the size of the tables. A dependency that
does not answer is reported as down rather than failing the scrape: the alert on
``wallet_dependency_up`` needs the scrape to succeed.
"""

import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from config.dashboard import selectors
from config.observability.broker import BrokerDown, queue_lengths
from payments.withdrawals import payouts
from payments.withdrawals.models import Withdrawal

logger = logging.getLogger(__name__)


class BusinessCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "wallet_dependency_up", "1 when the dependency answered this scrape.", labels=["dependency"]
        )
        try:
            yield from self._database_levels()
            up.add_metric(["database"], 1)
        except DatabaseError:
            logger.exception("metrics: the database did not answer")
            up.add_metric(["database"], 0)
        try:
            yield self._celery_queues()
            up.add_metric(["broker"], 1)
        except BrokerDown:
            logger.exception("metrics: the broker did not answer")
            up.add_metric(["broker"], 0)
        yield up

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Nothing up front: the registry would otherwise call ``collect`` (and query) on register."""
        return iter(())

    def _database_levels(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        size = GaugeMetricFamily("wallet_review_queue_size", "Items waiting for a reviewer.", labels=["queue"])
        age = GaugeMetricFamily(
            "wallet_review_queue_oldest_age_seconds",
            "How long the oldest item has waited (0 when empty).",
            labels=["queue"],
        )
        withdrawal_queue, _ = selectors.withdrawal_queue()
        for name, queue in (("withdrawals", withdrawal_queue), ("transfers", selectors.transfer_queue())):
            size.add_metric([name], queue.count)
            age.add_metric([name], (now - queue.oldest).total_seconds() if queue.oldest else 0)
        statuses = GaugeMetricFamily("wallet_withdrawals", "Withdrawals not final, by status.", labels=["status"])
        counts = dict(
            Withdrawal.objects.filter(status__in=payouts.NON_FINAL)
            .values_list("status")
            .annotate(count=Count("id"))
            .order_by()
        )
        for status in payouts.NON_FINAL:
            statuses.add_metric([str(status)], counts.get(status, 0))
        incidents = GaugeMetricFamily(
            "wallet_incidents", "Items needing attention, by kind (as on the dashboard).", labels=["kind"]
        )
        for kind, rows in selectors.incidents(now=now).items():
            incidents.add_metric([kind], rows.count())
        yield from (size, age, statuses, incidents)

    def _celery_queues(self) -> GaugeMetricFamily:
        lengths = GaugeMetricFamily("wallet_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        for queue, length in queue_lengths(settings.OBSERVED_CELERY_QUEUES).items():
            lengths.add_metric([queue], length)
        return lengths
