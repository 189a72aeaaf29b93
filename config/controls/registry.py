"""Which models are controls, and which of their columns a proposal carries.

A proposal carries every concrete column but the ones the system itself keeps moving (the
``updated_at`` stamps, the beat's run counters); a user's control is only its group membership.
"""

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, User
from django.db import models
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from payments.channels.models import Channel
from risk.models import BlocklistEntry, RiskRule


@dataclass(frozen=True)
class Control:
    # Columns that are not part of the control; None: every concrete column is.
    ignored: frozenset[str] = frozenset()
    # Many-to-many fields carried as sorted lists of ids.
    many: tuple[str, ...] = ()
    # Only these columns (and ``many``), when the model is more than a control (a user).
    only: tuple[str, ...] | None = field(default=None)
    # Time stamps a proposal sets that mean "when it happened": the approval writes its own time.
    stamped_on_approval: tuple[str, ...] = ()


CONTROLS: dict[type[models.Model], Control] = {
    RiskRule: Control(ignored=frozenset({"updated_at"})),
    Channel: Control(ignored=frozenset({"updated_at"})),
    BlocklistEntry: Control(ignored=frozenset({"created_at"}), stamped_on_approval=("removed_at",)),
    PeriodicTask: Control(ignored=frozenset({"last_run_at", "total_run_count", "date_changed"})),
    IntervalSchedule: Control(),
    CrontabSchedule: Control(),
    SolarSchedule: Control(),
    ClockedSchedule: Control(),
    Group: Control(many=("permissions",)),
    User: Control(many=("groups",), only=()),
}


def control_of(model: type[models.Model]) -> Control:
    return CONTROLS[model._meta.concrete_model]  # type: ignore[index]


def control_columns(model: type[models.Model]) -> list[models.Field]:
    control = control_of(model)
    return [
        column
        for column in model._meta.concrete_fields
        if not column.primary_key
        and column.name not in control.ignored
        and (control.only is None or column.name in control.only)
    ]
