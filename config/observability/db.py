"""Counts every SQL statement and failed statement of each database connection, through
Django's ``execute_wrapper`` installed as each connection is made."""

from django.db.backends.signals import connection_created
from prometheus_client import Counter

QUERIES = Counter("wallet_db_queries", "SQL statements executed, by database alias.", ["alias"])
ERRORS = Counter("wallet_db_query_errors", "SQL statements that raised, by database alias.", ["alias"])


class QueryCounter:
    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self, execute, sql, params, many, context):
        QUERIES.labels(alias=self.alias).inc()
        try:
            return execute(sql, params, many, context)
        except Exception:
            ERRORS.labels(alias=self.alias).inc()
            raise


def _wrap(sender, connection, **kwargs) -> None:
    """First in the list, not last: a connection can open inside a ``connection.execute_wrapper``
    block (pghistory's request context), whose exit pops the last wrapper, which must be its own."""
    if not any(isinstance(wrapper, QueryCounter) for wrapper in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, QueryCounter(connection.alias))


def query_counting_install() -> None:
    connection_created.connect(_wrap, dispatch_uid="observability-query-counter")
