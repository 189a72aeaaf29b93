"""The Celery application; tasks live in each app's and each capability's tasks.py. A worker or beat with unsafe
settings stops before it takes any work (config.checks)."""

import os
import sys

from celery import Celery, signals

from config.observability import context, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("wallet")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's tasks module, and those of the capabilities of payments, beside their services.
app.autodiscover_tasks()
app.autodiscover_tasks(["payments.withdrawals", "payments.orders", "payments.notifications"])
app.autodiscover_tasks(["payments.webhooks"])
app.autodiscover_tasks(["wallet.campaigns"])
app.autodiscover_tasks(["wallet.exports"])
app.autodiscover_tasks(["wallet.redpackets"])


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_start(**kwargs) -> None:
    """Runs as a worker or beat starts, before either takes or sends work (not when a web process
    lists the registered tasks). Celery logs and ignores exceptions of signal receivers, and beat
    redirects stderr to its log: print to the real stderr and exit instead."""
    import django
    from django.core.management.base import SystemCheckError

    django.setup()
    from config.checks import refuse_unsafe_start

    try:
        refuse_unsafe_start()
    except SystemCheckError as unsafe:
        print(unsafe, file=sys.__stderr__, flush=True)
        raise SystemExit(1) from unsafe


@signals.task_prerun.connect
def _log_context_bind(task_id: str | None = None, **kwargs) -> None:
    """A task's log lines carry its task id where a request's carry the request id."""
    context.context_clear()
    context.request_id.set(task_id or "")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _log_format_adopt(logger=None, **kwargs) -> None:
    """Celery's handlers (stderr or ``--logfile``) write the project's format, with context and masking."""
    if logger is not None:
        logs.handlers_adopt(logger)
