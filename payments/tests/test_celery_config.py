"""The Celery settings the payout pipeline relies on (docs/ARCHITECTURE.md §7): a task is acknowledged only
after it ran, redelivered when its worker dies, fetched one at a time, and never redelivered
while it still runs."""

from django.conf import settings

from config.celery import app


def test_tasks_are_acknowledged_late_and_redelivered_when_their_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_the_visibility_timeout_outlasts_any_task():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]  # the tests' broker is Redis

    assert app.conf.task_time_limit is not None
    assert visibility > app.conf.task_time_limit > app.conf.task_soft_time_limit


def test_every_payments_task_is_registered_by_its_name():
    app.loader.import_default_modules()

    expected = {
        "payments.withdrawal_dispatch",
        "payments.withdrawal_check",
        "payments.sweep_approved",
        "payments.sweep_processing",
        "payments.sweep_escalate",
        "payments.notification_send",
        "sandbox.notify",
    }
    assert expected <= set(app.tasks)
