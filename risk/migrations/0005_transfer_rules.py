"""Rules for user-to-user transfers (docs/WALLET.md): each rule and evaluation now names the
flow it guards, and the transfer defaults are seeded as rows finance supervisors change in the
admin. Existing codes are left as they are; reversing deletes the seeded codes."""

from decimal import Decimal

from django.db import migrations, models

TRANSFER_RULES = [
    {
        "code": "transfer_user_blocked",
        "kind": "user_blocked",
        "priority": 105,
        "message": "Your account cannot send transfers.",
    },
    {
        "code": "transfer_counterparty_blocked",
        "kind": "counterparty_blocked",
        "priority": 106,
        "message": "This recipient cannot receive transfers.",
    },
    {
        "code": "transfer_single_max",
        "kind": "amount_max",
        "priority": 120,
        "amount": Decimal("20000.00"),
        "message": "A transfer may be at most 20,000.00.",
    },
    {
        "code": "transfer_daily_amount",
        "kind": "amount_limit",
        "priority": 130,
        "amount": Decimal("50000.00"),
        "period": "day",
        "message": "You can transfer at most 50,000.00 a day.",
    },
    {
        "code": "transfer_daily_count",
        "kind": "count_limit",
        "priority": 140,
        "count": 20,
        "period": "day",
        "message": "You can make at most 20 transfers a day.",
    },
    {
        "code": "transfer_new_recipient_review",
        "kind": "new_recipient_review",
        "action": "review",
        "priority": 170,
        "amount": Decimal("2000.00"),
        "message": "A first transfer of 2,000.00 or more to someone is reviewed before it is paid.",
    },
]


def seed_rules(apps, schema_editor):
    RiskRule = apps.get_model("risk", "RiskRule")
    for rule in TRANSFER_RULES:
        code, defaults = rule["code"], {name: value for name, value in rule.items() if name != "code"}
        RiskRule.objects.using(schema_editor.connection.alias).get_or_create(
            code=code, defaults={**defaults, "flow": "transfer"}
        )


def delete_rules(apps, schema_editor):
    RiskRule = apps.get_model("risk", "RiskRule")
    RiskRule.objects.using(schema_editor.connection.alias).filter(
        code__in=[rule["code"] for rule in TRANSFER_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0004_riskrule_switch_permission"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="riskrule",
            name="risk_rule_parameters_match_kind",
        ),
        migrations.RemoveConstraint(
            model_name="riskrule",
            name="risk_rule_review_only_kinds",
        ),
        migrations.AddField(
            model_name="riskevaluation",
            name="flow",
            field=models.CharField(
                choices=[("withdrawal", "Withdrawal"), ("transfer", "Transfer between users")],
                default="withdrawal",
                db_default="withdrawal",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="riskrule",
            name="flow",
            field=models.CharField(
                choices=[("withdrawal", "Withdrawal"), ("transfer", "Transfer between users")],
                default="withdrawal",
                db_default="withdrawal",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="riskrule",
            name="kind",
            field=models.CharField(
                choices=[
                    ("amount_min", "Minimum amount"),
                    ("amount_max", "Maximum single amount"),
                    ("amount_review", "Review above amount"),
                    ("four_eyes", "Two approvals from amount"),
                    ("count_limit", "Count per period"),
                    ("amount_limit", "Amount per period"),
                    ("user_blocked", "Inactive or blocklisted user"),
                    ("payout_account_blocked", "Blocklisted payout account"),
                    ("window", "Closed time window"),
                    ("rollout", "Staged rollout"),
                    ("new_recipient_review", "Review from amount to a new recipient"),
                    ("counterparty_blocked", "Inactive or blocklisted recipient"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddConstraint(
            model_name="riskrule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "amount_min"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "amount_max"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "amount_review"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "four_eyes"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", False),
                        ("kind", "count_limit"),
                        ("percent__isnull", True),
                        ("period__isnull", False),
                    ),
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "amount_limit"),
                        ("percent__isnull", True),
                        ("period__isnull", False),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "user_blocked"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "payout_account_blocked"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", False),
                        ("closed_until__isnull", False),
                        ("count__isnull", True),
                        ("kind", "window"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "rollout"),
                        ("percent__isnull", False),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", False),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "new_recipient_review"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    models.Q(
                        ("amount__isnull", True),
                        ("closed_from__isnull", True),
                        ("closed_until__isnull", True),
                        ("count__isnull", True),
                        ("kind", "counterparty_blocked"),
                        ("percent__isnull", True),
                        ("period__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="risk_rule_parameters_match_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="riskrule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("flow", "withdrawal"),
                        (
                            "kind__in",
                            (
                                "amount_min",
                                "amount_max",
                                "amount_review",
                                "four_eyes",
                                "count_limit",
                                "amount_limit",
                                "user_blocked",
                                "payout_account_blocked",
                                "window",
                                "rollout",
                            ),
                        ),
                    ),
                    models.Q(
                        ("flow", "transfer"),
                        (
                            "kind__in",
                            (
                                "amount_min",
                                "amount_max",
                                "amount_review",
                                "count_limit",
                                "amount_limit",
                                "user_blocked",
                                "counterparty_blocked",
                                "new_recipient_review",
                            ),
                        ),
                    ),
                    _connector="OR",
                ),
                name="risk_rule_kind_fits_flow",
            ),
        ),
        migrations.AddConstraint(
            model_name="riskrule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ("amount_review", "four_eyes", "new_recipient_review")), _negated=True),
                    ("action", "review"),
                    _connector="OR",
                ),
                name="risk_rule_review_only_kinds",
            ),
        ),
        migrations.RunPython(seed_rules, delete_rules),
    ]
