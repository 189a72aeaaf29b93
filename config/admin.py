"""The admin site's name (translated, like every label staff see), and the controls kept here:
the beat schedules and the staff's groups. A change to either is a proposal a second person
approves (config.controls, docs/OPERATIONS.md "Changes to controls"); the product's own
periodic tasks (config.schedules: the sweeps and the nightly ledger audit) and the schedule rows
they run on are proposed by superusers only.

django-celery-beat's admin offers its bulk actions to anyone who may view the list; here each
needs the change permission, and enabling, disabling or toggling proposes the change per task.
"""

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from config.controls import admin as controls_admin  # noqa: F401 - registers the change proposals
from config.controls.adminkit import REASON, ProposedChangesMixin
from config.controls.control_admins import CONTROL_ADMINS
from config.controls.models import ChangeProposal
from config.schedules import PROTECTED_TASKS

admin.site.site_header = _("Wallet back-office")
admin.site.site_title = _("Wallet back-office")
admin.site.index_title = _("Wallet back-office administration")


def _protected(request, task: PeriodicTask) -> bool:
    return task.task in PROTECTED_TASKS and not request.user.is_superuser


class PeriodicTaskAdmin(ProposedChangesMixin, beat_admin.PeriodicTaskAdmin):
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

    def _propose_enabled(self, queryset: QuerySet[PeriodicTask], request, enabled: bool | None) -> None:
        """Each task's switch as a proposal; ``None`` toggles."""
        for task in queryset.order_by("pk"):
            task.enabled = (not task.enabled) if enabled is None else enabled
            self.propose(request, ChangeProposal.Operation.UPDATE, task)

    @admin.action(description=_("Enable selected tasks"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        self._propose_enabled(queryset, request, enabled=True)

    @admin.action(description=_("Disable selected tasks"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        self._propose_enabled(self._unprotected(request, queryset), request, enabled=False)

    @admin.action(description=_("Toggle activity of selected tasks"), permissions=["change"])
    def toggle_tasks(self, request, queryset):
        self._propose_enabled(self._unprotected(request, queryset), request, enabled=None)

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


class IntervalScheduleAdmin(ProposedChangesMixin, GuardedScheduleMixin, beat_admin.IntervalScheduleAdmin):
    pass


class CrontabScheduleAdmin(ProposedChangesMixin, GuardedScheduleMixin, beat_admin.CrontabScheduleAdmin):
    pass


class SolarScheduleAdmin(ProposedChangesMixin, GuardedScheduleMixin, beat_admin.SolarScheduleAdmin):
    pass


class ClockedScheduleAdmin(ProposedChangesMixin, GuardedScheduleMixin, beat_admin.ClockedScheduleAdmin):
    pass


class GroupAdmin(ProposedChangesMixin, auth_admin.GroupAdmin):
    """A group's name and permissions are proposals (config.roles puts the roles' back on migrate)."""


class UserAdmin(ProposedChangesMixin, auth_admin.UserAdmin):
    """A user's details save at once; a change of their groups is a proposal."""

    def applies_directly(self, request, obj, form, change) -> bool:
        return True

    def save_related(self, request, form, formsets, change):
        wanted = form.cleaned_data.get("groups")
        if wanted is not None:
            current = list(form.instance.groups.all())
            if {group.pk for group in wanted} != {group.pk for group in current}:
                self.propose(
                    request,
                    ChangeProposal.Operation.UPDATE,
                    form.instance,
                    {"groups": [group.pk for group in wanted]},
                    reason=form.cleaned_data.get(REASON, ""),
                )
            form.cleaned_data["groups"] = current
        auth_admin.UserAdmin.save_related(self, request, form, formsets, change)


for model, model_admin in (
    (PeriodicTask, PeriodicTaskAdmin),
    (IntervalSchedule, IntervalScheduleAdmin),
    (CrontabSchedule, CrontabScheduleAdmin),
    (SolarSchedule, SolarScheduleAdmin),
    (ClockedSchedule, ClockedScheduleAdmin),
    (Group, GroupAdmin),
    (User, UserAdmin),
    *CONTROL_ADMINS,
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
