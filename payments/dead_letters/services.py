"""Dead letters: a task that kept failing is recorded with its arguments and error, and run
again on the word of a staff member (once per letter)."""

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.dead_letters.models import DeadLetter
from wallet import errors
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)


def dead_letter_retry(*, dead_letter: DeadLetter, actor: User) -> DeadLetter:
    """Run a dead-lettered task again (after commit), recording who asked; once per letter."""
    with transaction.atomic(durable=True):
        dead_letter = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        if dead_letter.retried_at is not None:
            raise errors.Conflict(_("This dead letter was already retried."))
        dead_letter.retried_at = timezone.now()
        dead_letter.retried_by = actor
        dead_letter.save(update_fields=["retried_at", "retried_by"])
        name, args = dead_letter.task, list(dead_letter.args)
        transaction.on_commit(lambda: task_enqueue(name, *args))
    return dead_letter


def dead_letter_record(
    *, task: str, args: list, error: str, attempts: int, withdrawal_id: int | None = None
) -> DeadLetter:
    """Keep a task that gave up: its name, arguments, last error and attempts."""
    logger.error("task %s%s gave up after %s attempts: %s", task, args, attempts, error)
    return DeadLetter.objects.create(
        task=task, args=args, withdrawal_id=withdrawal_id, error=error[:2000], attempts=attempts
    )
