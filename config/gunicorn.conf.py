"""gunicorn settings of `make run`: ``gunicorn -c config/gunicorn.conf.py config.wsgi --bind …``.

Threaded workers (``gthread``): a request holds one of a worker's WEB_THREADS threads, and the
worker's main thread keeps answering the master's heartbeat meanwhile. With sync workers a slow
request holds its whole process and one past ``timeout`` (30 s) is SIGKILLed: the sandbox's
``timeout`` scenario stalls 30 s on purpose, past the adapters' CHANNEL_READ_TIMEOUT, so two such
payouts used to stop the API of a two-worker `make run` and get a worker killed.

The master does not load Django, so its log lines followed the process's time zone (UTC) while
Django and Celery log in TIME_ZONE: the master takes the settings' TIME_ZONE here.
"""

import os
import time

from django.conf import settings
from prometheus_client import multiprocess

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["TZ"] = settings.TIME_ZONE
time.tzset()

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
# Ctrl-C lets requests finish this long; a sandbox stall still running is cut short.
graceful_timeout = 10
accesslog = "-"
control_socket_disable = True


def child_exit(server, worker) -> None:
    """A worker's live gauges leave the scrape with it (docs/OPERATIONS.md, "Metrics, alerts
    and probes"); its counters stay summed from its files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
