"""The nightly ledger audit task and its schedule."""

import logging
from decimal import Decimal

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from wallet.tasks import ledger_audit_nightly

pytestmark = pytest.mark.django_db


def test_the_audit_is_scheduled_at_two_in_the_morning_by_migration():
    task = PeriodicTask.objects.get(task="wallet.ledger_audit_nightly")

    assert (task.crontab.hour, task.crontab.minute, task.enabled) == ("2", "0", True)


def test_the_task_logs_each_violation_and_returns_their_count(make_user, funded_account, caplog):
    account = funded_account(make_user("alice"), "10.00")
    assert ledger_audit_nightly() == 0
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallet_account SET balance = %s WHERE id = %s", [Decimal("11.00"), account.pk])

    with caplog.at_level(logging.ERROR, logger="wallet.tasks"):
        count = ledger_audit_nightly()

    assert count == 1
    assert f"account {account.code}: balance 11.00" in caplog.text
