"""Staff groups of docs/ARCHITECTURE.md §10, with the permissions that exist so far.

Django creates permissions in post_migrate, after every migration has run, so on a fresh
database none exist yet here: the migration creates those it assigns first. Later features add
their permissions to these groups in their own migrations. Running it twice changes nothing;
reversing it deletes the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LEDGER_VIEW = [("wallet", f"view_{model}") for model in ("account", "transfer", "entry", "hold")]
# Operations keeps the beat schedules: a periodic task needs its schedule rows too.
SCHEDULES = [
    ("django_celery_beat", f"{action}_{model}")
    for model in ("periodictask", "crontabschedule", "intervalschedule", "clockedschedule", "solarschedule")
    for action in ("view", "add", "change")
]

GROUPS = {
    "finance_reviewer": LEDGER_VIEW,
    "finance_supervisor": LEDGER_VIEW,
    "auditor": [*LEDGER_VIEW, ("wallet", "export_transfer"), ("wallet", "export_entry")],
    "operations": [("wallet", "view_account"), *SCHEDULES],
}


def create_groups(apps, schema_editor):
    db = schema_editor.connection.alias
    for label in ("wallet", "django_celery_beat"):
        app_config = apps.get_app_config(label)
        # The app configs of the migration state have no models module, which
        # create_permissions takes for "no models" and skips.
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=db, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.using(db).get_or_create(name=name)
        group.permissions.add(
            *(
                Permission.objects.using(db).get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in wanted
            )
        )


def delete_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0003_export_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
