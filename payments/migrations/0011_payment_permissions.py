"""Who sees and works payment orders, refunds and their channel events: finance and operations
see them, operations re-query and close them, auditors see and export them and their logs. As in
0002, permissions are created here first."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["paymentorder", "refund", "paymentevent", "paymenttransition", "refundtransition"]
VIEW = [("payments", f"view_{model}") for model in MODELS]
GROUPS = {
    "finance_reviewer": VIEW,
    "finance_supervisor": VIEW,
    "operations": [*VIEW, ("payments", "sync_paymentorder"), ("payments", "sync_refund")],
    "auditor": [*VIEW, *(("payments", f"export_{model}") for model in MODELS)],
}


def _permissions(apps, db, wanted):
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(db).get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in wanted
    ]


def grant(apps, schema_editor):
    db = schema_editor.connection.alias
    app_config = apps.get_app_config("payments")
    # The app configs of the migration state have no models module, which
    # create_permissions takes for "no models" and skips.
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, using=db, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, wanted in GROUPS.items():
        Group.objects.using(db).get(name=name).permissions.add(*_permissions(apps, db, wanted))


def revoke(apps, schema_editor):
    db = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for name, wanted in GROUPS.items():
        Group.objects.using(db).get(name=name).permissions.remove(*_permissions(apps, db, wanted))


class Migration(migrations.Migration):
    dependencies = [("payments", "0010_payment_sweep_schedules")]

    operations = [migrations.RunPython(grant, revoke)]
