"""The seeded rules (risk 0002) and the group permissions (risk 0003)."""

import importlib
from datetime import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from config.roles import roles_apply
from risk.models import RiskRule
from risk.tests.support import rule, set_rule

pytestmark = pytest.mark.django_db

rules_migration = importlib.import_module("risk.migrations.0002_default_rules")
permissions_migration = importlib.import_module("risk.migrations.0003_group_permissions")

D = Decimal
# code: kind, action, enabled, priority, parameters
SEEDED = {
    "withdrawal_window": ("window", "reject", False, 1, {"closed_from": time(19), "closed_until": time(1)}),
    "staged_rollout": ("rollout", "reject", False, 2, {"percent": 100}),
    "user_blocked": ("user_blocked", "reject", True, 5, {}),
    "payout_account_blocked": ("payout_account_blocked", "reject", True, 6, {}),
    "min_amount": ("amount_min", "reject", True, 10, {"amount": D("1.00")}),
    "single_max": ("amount_max", "reject", True, 20, {"amount": D("10000.00")}),
    "daily_amount": ("amount_limit", "reject", True, 30, {"amount": D("50000.00"), "period": "day"}),
    "daily_count": ("count_limit", "reject", True, 40, {"count": 5, "period": "day"}),
    "hourly_count": ("count_limit", "reject", True, 50, {"count": 3, "period": "hour"}),
    "monthly_count": ("count_limit", "reject", True, 60, {"count": 20, "period": "days_30"}),
    "large_amount_review": ("amount_review", "review", True, 70, {"amount": D("5000.00")}),
    "four_eyes": ("four_eyes", "review", True, 80, {"amount": D("8000.00")}),
}
PARAMETERS = ("amount", "count", "period", "closed_from", "closed_until", "percent")

RISK_VIEW = {"risk.view_riskrule", "risk.view_riskevaluation", "risk.view_blocklistentry"}
# What migration 0003 granted when it was written (operations changed every rule then).
GRANTED_BY_0003 = {
    "operations": RISK_VIEW | {"risk.change_riskrule", "risk.add_blocklistentry", "risk.change_blocklistentry"},
    "finance_reviewer": RISK_VIEW,
    "finance_supervisor": RISK_VIEW,
    "auditor": RISK_VIEW,
}
# After migrate the roles of config.roles hold: operations switch the window and the rollout
# and block; supervisors own rules, limits and thresholds and remove blocks.
EXPECTED_PERMISSIONS = {
    "operations": RISK_VIEW | {"risk.switch_riskrule", "risk.add_blocklistentry"},
    "finance_reviewer": RISK_VIEW,
    "finance_supervisor": RISK_VIEW | {"risk.change_riskrule", "risk.add_blocklistentry", "risk.change_blocklistentry"},
    "auditor": RISK_VIEW,
}


def seeded_rows(flow: str = "withdrawal") -> dict[str, tuple]:
    return {
        row.code: (
            row.kind,
            row.action,
            row.enabled,
            row.priority,
            {name: getattr(row, name) for name in PARAMETERS if getattr(row, name) is not None},
        )
        for row in RiskRule.objects.filter(flow=flow)
    }


def risk_permissions_by_group() -> dict[str, set[str]]:
    """Each group's permissions on the risk app (other apps add theirs in their own migrations)."""
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.all()
            if p.content_type.app_label == "risk"
        }
        for group in Group.objects.filter(name__in=EXPECTED_PERMISSIONS).prefetch_related("permissions__content_type")
    }


def run(function, migration_name: str) -> None:
    """Run a migration function as migrate does, on the app registry of its migration state."""
    apps = MigrationExecutor(connection).loader.project_state(("risk", migration_name)).apps
    with connection.schema_editor() as schema_editor:
        function(apps, schema_editor)


def test_after_migrations_the_business_defaults_are_in_place():
    assert seeded_rows() == SEEDED


def test_every_seeded_rule_is_valid_and_has_a_message():
    for row in RiskRule.objects.all():
        row.full_clean()
        assert row.message


def test_seeding_again_keeps_what_operations_changed():
    set_rule("single_max", amount=D("20000.00"))
    set_rule("withdrawal_window", enabled=True)

    run(rules_migration.seed_rules, "0002_default_rules")

    assert RiskRule.objects.filter(flow="withdrawal").count() == len(SEEDED)
    assert (rule("single_max").amount, rule("withdrawal_window").enabled) == (D("20000.00"), True)


def test_reversing_the_seed_deletes_the_seeded_rules_and_seeding_again_restores_them():
    run(rules_migration.delete_rules, "0002_default_rules")
    assert not RiskRule.objects.filter(flow="withdrawal").exists()

    run(rules_migration.seed_rules, "0002_default_rules")

    assert seeded_rows() == SEEDED


def test_after_migrations_each_group_has_exactly_its_risk_permissions():
    assert risk_permissions_by_group() == EXPECTED_PERMISSIONS


def test_the_0003_grant_is_reversible_touches_only_risk_and_the_roles_override_it():
    other_before = {
        group.name: group.permissions.exclude(content_type__app_label="risk").count() for group in Group.objects.all()
    }

    run(permissions_migration.revoke, "0003_group_permissions")
    assert risk_permissions_by_group() == {
        name: EXPECTED_PERMISSIONS[name] - GRANTED_BY_0003[name] for name in EXPECTED_PERMISSIONS
    }
    other_after = {
        group.name: group.permissions.exclude(content_type__app_label="risk").count() for group in Group.objects.all()
    }
    assert other_after == other_before

    run(permissions_migration.grant, "0003_group_permissions")
    run(permissions_migration.grant, "0003_group_permissions")
    assert risk_permissions_by_group() == {
        name: EXPECTED_PERMISSIONS[name] | GRANTED_BY_0003[name] for name in EXPECTED_PERMISSIONS
    }

    # migrate applies the roles after every migration: what 0003 gave operations is gone again
    roles_apply()
    assert risk_permissions_by_group() == EXPECTED_PERMISSIONS
