"""The admin site's name (translated, like every label staff see), and the beat schedules in
the admin, guarded: the product's own periodic tasks (config.schedules: the sweeps and the
nightly ledger audit) and the schedule rows they run on are changed, disabled or deleted by
superusers only; finance supervisors keep every other schedule.

django-celery-beat's admin offers its bulk actions to anyone who may view the list; here each
needs the change permission, and disabling or toggling skips the protected tasks by name.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from config.schedules import PROTECTED_TASKS

admin.site.site_header = _("Wallet back-office")
admin.site.site_title = _("Wallet back-office")
admin.site.index_title = _("Wallet back-office administration")


def _protected(request, task: PeriodicTask) -> bool:
    return task.task in PROTECTED_TASKS and not request.user.is_superuser


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    actions = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj is not None and _protected(request, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and _protected(request, obj))

    def _unprotected(self, request, queryset: QuerySet[PeriodicTask]) -> QuerySet[PeriodicTask]:
        kept = [task for task in queryset if _protected(request, task)]
        if kept:
            names = ", ".join(sorted(task.name for task in kept))
            self.message_user(request, _("Only a superuser may disable: %(names)s.") % {"names": names}, messages.ERROR)
        return queryset.exclude(pk__in=[task.pk for task in kept])

    @admin.action(description=_("Enable selected tasks"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        super().enable_tasks(request, queryset)

    @admin.action(description=_("Disable selected tasks"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        super().disable_tasks(request, self._unprotected(request, queryset))

    @admin.action(description=_("Toggle activity of selected tasks"), permissions=["change"])
    def toggle_tasks(self, request, queryset):
        super().toggle_tasks(request, self._unprotected(request, queryset))

    @admin.action(description=_("Run selected tasks"), permissions=["change"])
    def run_tasks(self, request, queryset):
        super().run_tasks(request, queryset)


class GuardedScheduleMixin:
    """A schedule row that a protected task runs on changes only by a superuser's hand."""

    def _runs_protected(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return False
        return obj.periodictask_set.filter(task__in=PROTECTED_TASKS).exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._runs_protected(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._runs_protected(request, obj)  # type: ignore[misc]


class IntervalScheduleAdmin(GuardedScheduleMixin, beat_admin.IntervalScheduleAdmin):
    pass


class CrontabScheduleAdmin(GuardedScheduleMixin, beat_admin.CrontabScheduleAdmin):
    pass


class SolarScheduleAdmin(GuardedScheduleMixin, beat_admin.SolarScheduleAdmin):
    pass


class ClockedScheduleAdmin(GuardedScheduleMixin, beat_admin.ClockedScheduleAdmin):
    pass


for model, model_admin in (
    (PeriodicTask, PeriodicTaskAdmin),
    (IntervalSchedule, IntervalScheduleAdmin),
    (CrontabSchedule, CrontabScheduleAdmin),
    (SolarSchedule, SolarScheduleAdmin),
    (ClockedSchedule, ClockedScheduleAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
