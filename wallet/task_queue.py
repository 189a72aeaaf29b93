"""Queue Celery work by task name. Services queue work this way and never import a tasks
module: a tasks module imports the services it runs, so the other way round would be a loop."""

from celery import current_app


def task_enqueue(name: str, *args: object, countdown: float | None = None) -> None:
    """Send the task ``name`` with ``args`` to the broker (call it in ``transaction.on_commit``)."""
    current_app.send_task(name, args=list(args), countdown=countdown)
