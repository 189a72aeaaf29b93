"""Every task goes to the queue of its kind (config/queues.py), through Celery's own router, and
each broker is told what it needs. A new task without a route fails here, not in production."""

import pytest
from django.conf import settings

from config import queues
from config.celery import app
from config.queues import transport_options

# Kinds a flood of which must never stand in front of a payout.
HEAVY = (queues.EXPORTS, queues.WEBHOOKS, queues.RECONCILIATION, queues.SANDBOX)


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def routed_queue(task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


def test_every_registered_task_has_a_route_and_every_route_a_task():
    assert registered_tasks() == set(queues.TASK_QUEUES)


def test_celery_sends_each_task_to_the_queue_of_its_kind_and_every_worker_knows_each_queue():
    declared = {queue.name for queue in app.conf.task_queues}

    for task, queue in queues.TASK_QUEUES.items():
        assert routed_queue(task) == queue, task
    assert declared == set(queues.QUEUES)
    assert set(settings.OBSERVED_CELERY_QUEUES) == declared


def test_payouts_share_their_queue_with_no_other_kind_of_work():
    payout_tasks = {task for task in registered_tasks() if routed_queue(task) == queues.PAYOUTS}

    assert payout_tasks == {"payments.withdrawal_dispatch", "payments.withdrawal_check"}
    assert {routed_queue(task) for task in registered_tasks() if task.startswith("wallet.export")} == {queues.EXPORTS}
    assert {routed_queue("payments.webhook_deliver"), routed_queue("sandbox.notify")} <= set(HEAVY)


def test_a_sweep_runs_on_the_default_queue_so_a_flooded_kind_does_not_hold_it_back():
    sweeps = [task for task in registered_tasks() if ".sweep_" in task]

    assert len(sweeps) >= 6
    assert {routed_queue(task) for task in sweeps} == {queues.DEFAULT}
    assert routed_queue("some.task_without_a_route") == queues.DEFAULT == app.conf.task_default_queue


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", {"visibility_timeout": 7200}),
        ("redis+socket:///tmp/redis.sock?virtual_host=1", {"visibility_timeout": 7200}),
        ("amqp://wallet:secret@rabbitmq:5672//", {"confirm_publish": True}),
        ("amqps://wallet:secret@rabbitmq:5671/wallet", {"confirm_publish": True}),
    ],
)
def test_redis_is_told_how_long_a_task_may_be_held_and_rabbitmq_to_confirm_each_message(url, expected):
    assert transport_options(url, hold_seconds=7200) == expected


def test_a_worker_may_hold_a_task_longer_than_any_countdown_or_run():
    longest = max(
        settings.RECONCILIATION_RETRY_MAX_SECONDS,
        max(settings.WEBHOOK_RETRY_DELAYS),
        settings.EXPORT_TIME_LIMIT,
        app.conf.task_time_limit,
    )

    assert longest < settings.CELERY_BROKER_HOLD_SECONDS
