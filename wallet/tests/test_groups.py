"""The staff groups, created by migration wallet 0004 and kept equal to config.roles after
every migrate."""

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.roles import roles_apply

groups_migration = importlib.import_module("wallet.migrations.0004_admin_groups")

LEDGER_VIEW = {"wallet.view_account", "wallet.view_transfer", "wallet.view_entry", "wallet.view_hold"}
SCHEDULE_MODELS = ("periodictask", "crontabschedule", "intervalschedule", "clockedschedule", "solarschedule")
SCHEDULES = {
    f"django_celery_beat.{action}_{model}" for model in SCHEDULE_MODELS for action in ("view", "add", "change")
}
SCHEDULES_VIEW = {f"django_celery_beat.view_{model}" for model in SCHEDULE_MODELS}
# What the migration itself grants (when it was written, operations kept the schedules).
GRANTED_BY_0004 = {
    "finance_reviewer": LEDGER_VIEW,
    "finance_supervisor": LEDGER_VIEW,
    "auditor": LEDGER_VIEW | {"wallet.export_transfer", "wallet.export_entry"},
    "operations": {"wallet.view_account"} | SCHEDULES,
}
# After migrate (config.roles): the schedules are the finance supervisors'; operations look;
# finance staff and auditors also see campaigns and their rewards.
CAMPAIGNS_VIEW = {"wallet.view_campaign", "wallet.view_reward"}
EXPECTED = {
    **GRANTED_BY_0004,
    "finance_reviewer": LEDGER_VIEW | CAMPAIGNS_VIEW,
    "finance_supervisor": LEDGER_VIEW | SCHEDULES | CAMPAIGNS_VIEW,
    "operations": {"wallet.view_account"} | SCHEDULES_VIEW,
    "auditor": GRANTED_BY_0004["auditor"] | CAMPAIGNS_VIEW | {"wallet.view_exportjob"},
}

pytestmark = pytest.mark.django_db


# The wallet's capabilities keep their own models in the wallet app and test their permissions.
CAPABILITY_MODELS = {
    "redpacket",
    "redpacketshare",
    "redpackettransition",
    "chatgroup",
    "chatgroupmember",
    "peertransfer",
    "receivecode",
}


def permissions_by_group() -> dict[str, set[str]]:
    """This migration's share of each group; later apps and models add theirs (and test them:
    transfers and receive codes in wallet/transfers/tests)."""
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.all()
            if p.content_type.app_label in ("wallet", "django_celery_beat")
            and p.content_type.model not in CAPABILITY_MODELS
        }
        for group in Group.objects.filter(name__in=EXPECTED).prefetch_related("permissions__content_type")
    }


@pytest.fixture
def migration_apps():
    """The app registry as the migration sees it, so its functions run as they do in migrate."""
    return MigrationExecutor(connection).loader.project_state(("wallet", "0004_admin_groups")).apps


def test_after_migrations_each_group_exists_with_exactly_its_permissions():
    assert permissions_by_group() == EXPECTED


def test_only_the_auditor_may_export():
    exporters = {name for name, perms in permissions_by_group().items() if perms & {"wallet.export_entry"}}

    assert exporters == {"auditor"}


def test_running_the_migration_again_and_then_the_roles_changes_nothing(migration_apps):
    with connection.schema_editor() as schema_editor:
        groups_migration.create_groups(migration_apps, schema_editor)
    roles_apply()

    assert permissions_by_group() == EXPECTED
    assert Group.objects.filter(name__in=EXPECTED).count() == len(EXPECTED)


def test_reversing_the_migration_deletes_the_groups_and_migrating_again_restores_them(migration_apps):
    with connection.schema_editor() as schema_editor:
        groups_migration.delete_groups(migration_apps, schema_editor)
    assert not Group.objects.filter(name__in=EXPECTED).exists()

    with connection.schema_editor() as schema_editor:
        groups_migration.create_groups(migration_apps, schema_editor)
    assert permissions_by_group() == GRANTED_BY_0004
    roles_apply()
    assert permissions_by_group() == EXPECTED


def test_the_migration_creates_permissions_that_post_migrate_has_not_created_yet(migration_apps):
    Permission.objects.filter(content_type__app_label="wallet", codename="export_entry").delete()
    Group.objects.filter(name__in=EXPECTED).delete()

    with connection.schema_editor() as schema_editor:
        groups_migration.create_groups(migration_apps, schema_editor)

    assert permissions_by_group() == GRANTED_BY_0004
