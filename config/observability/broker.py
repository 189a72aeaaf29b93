"""The Celery broker as the probes and the scrape see it, Redis or RabbitMQ alike, through kombu.

Every call opens its own short connection that gives up after ``TIMEOUT_SECONDS`` and tries
once: a broker that does not answer makes a probe fail or a gauge go missing, never a
request hang.
"""

from collections.abc import Iterable

from django.conf import settings
from kombu import Connection
from kombu.exceptions import KombuError

TIMEOUT_SECONDS = 1.0


class BrokerDown(Exception):
    """The broker did not answer (refused, timed out, or turned us away)."""


def _connection() -> Connection:
    return Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=TIMEOUT_SECONDS,
        transport_options={
            # Redis: socket timeouts; RabbitMQ: the frames' read and write timeouts.
            "socket_timeout": TIMEOUT_SECONDS,
            "socket_connect_timeout": TIMEOUT_SECONDS,
            "read_timeout": TIMEOUT_SECONDS,
            "write_timeout": TIMEOUT_SECONDS,
        },
    )


def broker_ping() -> None:
    """Connect and open a channel, or raise ``BrokerDown``."""
    queue_lengths(())


def queue_lengths(names: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each named queue (0 for a queue no worker has declared yet), or
    ``BrokerDown``. A passive declare only asks: it never creates a queue."""
    connection = _connection()
    errors = (*connection.connection_errors, *connection.channel_errors, KombuError, OSError)
    try:
        with connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
            lengths = {}
            channel = connection.channel()
            for name in names:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except connection.channel_errors:
                    # RabbitMQ closes the channel on a missing queue: it has nothing waiting.
                    lengths[name] = 0
                    channel = connection.channel()
            return lengths
    except errors as error:
        raise BrokerDown(type(error).__name__) from error
