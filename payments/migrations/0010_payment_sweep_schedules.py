"""The payment sweeps on django-celery-beat (docs/ARCHITECTURE.md §7); operations edit them in the admin."""

from django.db import migrations

SCHEDULES = [
    ("Payments: close expired orders", "payments.sweep_expired_payments", 1, "minutes"),
    ("Refunds: resend lost, query processing", "payments.sweep_refunds", 5, "minutes"),
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
        ("payments", "0009_payment_orders_and_refunds"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
