"""Payout channels and the payments permissions of the staff groups (docs/ARCHITECTURE.md §6, §10).

Two payout channels at the business defaults (0.1 %, min 0.10, max 5.00): WeChat merchant
transfer to an openid and bank-card payout; operations edit them in the admin. Finance staff
view and work the withdrawal queue, auditors view and export withdrawals and their transition
log, operations keep channels. Permissions are created here as in wallet 0004 (post_migrate
has not run yet on a fresh database). Idempotent; reversible.
"""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

CHANNELS = [
    {"code": "wechat", "name": "WeChat Pay merchant transfer", "payout_account_kind": "wechat_openid", "priority": 10},
    {"code": "bank", "name": "Bank card payout", "payout_account_kind": "bank_card", "priority": 20},
]
FEES = {"fee_rate": Decimal("0.001"), "fee_min": Decimal("0.10"), "fee_max": Decimal("5.00")}

REVIEW = [
    ("payments", "view_withdrawal"),
    ("payments", "approve_withdrawal"),
    ("payments", "view_payoutaccount"),
    ("payments", "view_withdrawaltransition"),
    ("payments", "view_channel"),
]
GROUPS = {
    "finance_reviewer": REVIEW,
    "finance_supervisor": REVIEW,
    "auditor": [
        ("payments", "view_withdrawal"),
        ("payments", "export_withdrawal"),
        ("payments", "view_withdrawaltransition"),
        ("payments", "export_withdrawaltransition"),
        ("payments", "view_payoutaccount"),
        ("payments", "view_channel"),
    ],
    "operations": [
        ("payments", "view_channel"),
        ("payments", "change_channel"),
        ("payments", "view_payoutaccount"),
        ("payments", "view_withdrawal"),
    ],
}


def _permissions(apps, db, wanted):
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(db).get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in wanted
    ]


def forward(apps, schema_editor):
    db = schema_editor.connection.alias
    Channel = apps.get_model("payments", "Channel")
    for channel in CHANNELS:
        Channel.objects.using(db).get_or_create(code=channel["code"], defaults={**channel, **FEES})

    app_config = apps.get_app_config("payments")
    # The app configs of the migration state have no models module, which
    # create_permissions takes for "no models" and skips.
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, using=db, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, wanted in GROUPS.items():
        Group.objects.using(db).get(name=name).permissions.add(*_permissions(apps, db, wanted))


def backward(apps, schema_editor):
    db = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for name, wanted in GROUPS.items():
        Group.objects.using(db).get(name=name).permissions.remove(*_permissions(apps, db, wanted))
    apps.get_model("payments", "Channel").objects.using(db).filter(
        code__in=[channel["code"] for channel in CHANNELS], withdrawals__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("wallet", "0006_hold_place_unknown_account"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
