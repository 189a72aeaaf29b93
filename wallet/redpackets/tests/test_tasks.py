"""The red packet sweeps are registered under their names and scheduled by migrate."""

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app

pytestmark = pytest.mark.django_db


def test_the_sweeps_are_registered_by_name_and_scheduled_every_10_and_30_minutes():
    app.loader.import_default_modules()

    assert {"wallet.redpackets_settle", "wallet.redpackets_complete_grabs"} <= set(app.tasks)
    every = {
        task.task: (task.interval.every, task.interval.period)
        for task in PeriodicTask.objects.filter(task__startswith="wallet.redpackets_").select_related("interval")
    }
    assert every == {
        "wallet.redpackets_settle": (10, "minutes"),
        "wallet.redpackets_complete_grabs": (30, "minutes"),
    }
