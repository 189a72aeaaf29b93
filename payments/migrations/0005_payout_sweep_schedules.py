"""The payout sweeps on django-celery-beat (docs/ARCHITECTURE.md §7); operations edit them in the admin."""

from django.db import migrations

SCHEDULES = [
    ("Withdrawals: dispatch stuck approved", "payments.sweep_approved", 1, "minutes"),
    ("Withdrawals: query processing at the channel", "payments.sweep_processing", 5, "minutes"),
    ("Withdrawals: escalate not final after 4 hours", "payments.sweep_escalate", 1, "hours"),
]


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


def remove_schedules(apps, schema_editor):
    names = [name for name, *_ in SCHEDULES]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_pipeline"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
