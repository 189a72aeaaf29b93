"""Risk permissions for the staff groups of wallet 0004 (docs/ARCHITECTURE.md §10).

Operations switches rules and keeps the blocklist; finance sees rules, decisions and the
blocklist beside the withdrawal queue; auditors see everything. As in wallet 0004, the
permissions are created here because post_migrate has not created them yet on a fresh
database. Running it twice changes nothing; reversing it takes the permissions away again.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [("risk", f"view_{model}") for model in ("riskrule", "riskevaluation", "blocklistentry")]

GROUPS = {
    "operations": [
        ("risk", "view_riskrule"),
        ("risk", "change_riskrule"),
        ("risk", "view_blocklistentry"),
        ("risk", "add_blocklistentry"),
        ("risk", "change_blocklistentry"),
        ("risk", "view_riskevaluation"),
    ],
    "finance_reviewer": VIEW_ALL,
    "finance_supervisor": VIEW_ALL,
    "auditor": VIEW_ALL,
}


def _permissions(apps, db, wanted):
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(db).get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in wanted
    ]


def grant(apps, schema_editor):
    db = schema_editor.connection.alias
    app_config = apps.get_app_config("risk")
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
    dependencies = [
        ("risk", "0002_default_rules"),
        ("wallet", "0006_hold_place_unknown_account"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
