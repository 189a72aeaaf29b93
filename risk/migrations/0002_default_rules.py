"""The business defaults for withdrawals, as rows operations can change in the admin.

The window and the staged rollout start switched off, so a fresh install does not refuse
evening withdrawals until operations turn them on. Existing codes are left as they are, so
running it again changes nothing; reversing it deletes the seeded codes.
"""

from datetime import time
from decimal import Decimal

from django.db import migrations

DEFAULT_RULES = [
    {
        "code": "withdrawal_window",
        "kind": "window",
        "priority": 1,
        "enabled": False,
        "closed_from": time(19, 0),
        "closed_until": time(1, 0),
        "message": "Withdrawals are closed between 19:00 and 01:00.",
    },
    {
        "code": "staged_rollout",
        "kind": "rollout",
        "priority": 2,
        "enabled": False,
        "percent": 100,
        "message": "Withdrawals are not available for your account yet.",
    },
    {
        "code": "user_blocked",
        "kind": "user_blocked",
        "priority": 5,
        "message": "Withdrawals are not possible for this account. Please contact support.",
    },
    {
        "code": "payout_account_blocked",
        "kind": "payout_account_blocked",
        "priority": 6,
        "message": "This payout account cannot receive withdrawals.",
    },
    {
        "code": "min_amount",
        "kind": "amount_min",
        "priority": 10,
        "amount": Decimal("1.00"),
        "message": "The minimum withdrawal is 1.00.",
    },
    {
        "code": "single_max",
        "kind": "amount_max",
        "priority": 20,
        "amount": Decimal("10000.00"),
        "message": "A single withdrawal cannot exceed 10,000.00.",
    },
    {
        "code": "daily_amount",
        "kind": "amount_limit",
        "priority": 30,
        "amount": Decimal("50000.00"),
        "period": "day",
        "message": "Withdrawals cannot exceed 50,000.00 a day.",
    },
    {
        "code": "daily_count",
        "kind": "count_limit",
        "priority": 40,
        "count": 5,
        "period": "day",
        "message": "At most 5 withdrawals a day.",
    },
    {
        "code": "hourly_count",
        "kind": "count_limit",
        "priority": 50,
        "count": 3,
        "period": "hour",
        "message": "At most 3 withdrawals an hour. Please try again later.",
    },
    {
        "code": "monthly_count",
        "kind": "count_limit",
        "priority": 60,
        "count": 20,
        "period": "days_30",
        "message": "At most 20 withdrawals in 30 days.",
    },
    {
        "code": "large_amount_review",
        "kind": "amount_review",
        "action": "review",
        "priority": 70,
        "amount": Decimal("5000.00"),
        "message": "Withdrawals above 5,000.00 are reviewed by finance staff.",
    },
    {
        "code": "four_eyes",
        "kind": "four_eyes",
        "action": "review",
        "priority": 80,
        "amount": Decimal("8000.00"),
        "message": "Withdrawals of 8,000.00 or more need two approvals.",
    },
]


def seed_rules(apps, schema_editor):
    RiskRule = apps.get_model("risk", "RiskRule")
    for rule in DEFAULT_RULES:
        code, defaults = rule["code"], {name: value for name, value in rule.items() if name != "code"}
        RiskRule.objects.using(schema_editor.connection.alias).get_or_create(code=code, defaults=defaults)


def delete_rules(apps, schema_editor):
    RiskRule = apps.get_model("risk", "RiskRule")
    RiskRule.objects.using(schema_editor.connection.alias).filter(
        code__in=[rule["code"] for rule in DEFAULT_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]

    operations = [migrations.RunPython(seed_rules, delete_rules)]
