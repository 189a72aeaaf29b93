"""The Celery application; tasks live in each app's and each capability's tasks.py. A worker or beat with unsafe
settings stops before it takes any work (config.checks)."""

import os
import sys

from celery import Celery, signals
from celery.loaders.app import AppLoader

from config.observability import context, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class SafeStartLoader(AppLoader):
    """Celery's loader, whose ``init_worker`` (run by a worker and by beat as they start, never by a
    web process listing the tasks) first refuses unsafe settings: before any task is taken, and
    before beat's scheduler reads a schedule or sends one."""

    def init_worker(self) -> None:
        if not self.worker_initialized:
            _refuse_unsafe_start()
        super().init_worker()


def _refuse_unsafe_start() -> None:
    """Celery logs and ignores exceptions in its start-up hooks, and beat redirects stderr to its
    log: print to the real stderr and exit instead."""
    import django
    from django.core.management.base import SystemCheckError

    django.setup()
    from config.checks import refuse_unsafe_start

    try:
        refuse_unsafe_start()
    except SystemCheckError as unsafe:
        print(unsafe, file=sys.__stderr__, flush=True)
        raise SystemExit(1) from unsafe


# A path, not the class: Celery's Django fixup reads the loader's name.
app = Celery("wallet", loader="config.celery:SafeStartLoader")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each app's tasks module, and those of the capabilities of payments, beside their services.
app.autodiscover_tasks()
app.autodiscover_tasks(["payments.withdrawals", "payments.orders", "payments.notifications"])
app.autodiscover_tasks(["payments.webhooks"])
app.autodiscover_tasks(["wallet.campaigns"])
app.autodiscover_tasks(["wallet.exports"])
app.autodiscover_tasks(["wallet.redpackets"])


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
