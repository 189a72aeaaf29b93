"""The periodic work of the product, declared in one place, installed for Celery beat.

``schedules_apply`` runs after every ``migrate`` (config.apps) and creates each declared task
that is missing, on django-celery-beat's tables, so beat reads them from the database and the
admin shows them. It never changes a task that exists. These tasks are what keeps money
moving and checked (the sweeps, the nightly ledger audit): only a superuser may change,
disable or delete them or the schedule rows they run on (config.admin).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Every:
    every: int
    period: str


@dataclass(frozen=True)
class Daily:
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    when: Every | Daily


SCHEDULES: tuple[Schedule, ...] = (
    Schedule("Withdrawals: dispatch stuck approved", "payments.sweep_approved", Every(1, IntervalSchedule.MINUTES)),
    Schedule(
        "Withdrawals: query processing at the channel", "payments.sweep_processing", Every(5, IntervalSchedule.MINUTES)
    ),
    Schedule(
        "Withdrawals: escalate not final after 4 hours", "payments.sweep_escalate", Every(1, IntervalSchedule.HOURS)
    ),
    Schedule("Payments: close expired orders", "payments.sweep_expired_payments", Every(1, IntervalSchedule.MINUTES)),
    Schedule("Refunds: resend lost, query processing", "payments.sweep_refunds", Every(5, IntervalSchedule.MINUTES)),
    Schedule("Webhooks: queue overdue deliveries again", "payments.sweep_webhooks", Every(1, IntervalSchedule.MINUTES)),
    Schedule("Nightly ledger audit", "wallet.ledger_audit_nightly", Daily(hour=2)),
    Schedule("Nightly reconciliation of every channel's bills", "reconciliation.nightly", Daily(hour=2)),
    Schedule(
        "Nightly internal reconciliation (orders against the ledger)",
        "reconciliation.internal_nightly",
        Daily(hour=2, minute=30),
    ),
    Schedule("Campaigns: credit pending rewards", "wallet.campaign_rewards_sweep", Every(1, IntervalSchedule.MINUTES)),
    Schedule("Campaigns: recount budget counters", "wallet.campaign_budgets_recount", Every(1, IntervalSchedule.HOURS)),
    Schedule(
        "Red packets: refund expired, finish grabbed", "wallet.redpackets_settle", Every(10, IntervalSchedule.MINUTES)
    ),
    Schedule(
        "Red packets: post grabs without a posting",
        "wallet.redpackets_complete_grabs",
        Every(30, IntervalSchedule.MINUTES),
    ),
    Schedule("Exports: delete expired files", "wallet.export_jobs_purge", Every(1, IntervalSchedule.HOURS)),
)
PROTECTED_TASKS = frozenset(schedule.task for schedule in SCHEDULES)


@transaction.atomic
def schedules_apply(*, using: str = "default") -> list[str]:
    """Create the declared tasks that are missing; the names of those created."""
    created = []
    for schedule in SCHEDULES:
        if PeriodicTask.objects.using(using).filter(name=schedule.name).exists():
            continue
        task = PeriodicTask(name=schedule.name, task=schedule.task)
        if isinstance(schedule.when, Every):
            task.interval, _ = IntervalSchedule.objects.using(using).get_or_create(
                every=schedule.when.every, period=schedule.when.period
            )
        else:
            task.crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
                minute=str(schedule.when.minute),
                hour=str(schedule.when.hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
        task.save(using=using)
        created.append(schedule.name)
    return created
