"""Change proposals, and the database's history of every control and proposal.

The history is kept by triggers (django-pghistory) on proxies of the control models, so the
event tables and their triggers belong to this app, also for Django's and django-celery-beat's
models; each row holds the row after (or, for a delete, before) the change and the request's
context: the actor, the URL and the request id.
"""

import pghistory
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from payments.channels.models import Channel
from risk.models import BlocklistEntry, RiskRule


class ChangeProposal(models.Model):
    """One person's change to a control, applied only when a second person approves it."""

    class Operation(models.TextChoices):
        CREATE = "create", _("Create")
        UPDATE = "update", _("Change")
        DELETE = "delete", _("Delete")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")
        STALE = "stale", _("Stale")

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("control"))
    object_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, verbose_name=_("object"))
    operation = models.CharField(max_length=8, choices=Operation.choices, verbose_name=_("operation"))
    before = models.JSONField(default=dict, encoder=DjangoJSONEncoder, verbose_name=_("before"))
    after = models.JSONField(default=dict, encoder=DjangoJSONEncoder, verbose_name=_("after"))
    reason = models.CharField(max_length=255, blank=True, default="", verbose_name=_("reason"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))

    class Meta:
        verbose_name = _("change proposal")
        verbose_name_plural = _("change proposals")
        ordering = ("-proposed_at", "-id")
        permissions = [
            ("propose_changeproposal", "Can propose changes to controls"),
            ("approve_changeproposal", "Can approve or reject others' changes to controls"),
            ("export_changeproposal", "Can export the history of controls"),
        ]
        indexes = [models.Index(fields=["status", "proposed_at"], name="proposal_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", decided_by__isnull=True, decided_at__isnull=True)
                | (
                    ~Q(status="pending")
                    & Q(decided_by__isnull=False, decided_at__isnull=False)
                    & ~Q(decided_by=F("proposed_by"))
                ),
                name="proposal_decided_by_a_second_person",
            ),
            models.CheckConstraint(
                condition=Q(operation="create") | ~Q(object_id=""), name="proposal_names_its_object"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_operation_display()} {self.object_repr}"


class RiskRuleHistory(RiskRule):
    class Meta:
        proxy = True


class ChannelHistory(Channel):
    class Meta:
        proxy = True


class BlocklistEntryHistory(BlocklistEntry):
    class Meta:
        proxy = True


class PeriodicTaskHistory(PeriodicTask):
    class Meta:
        proxy = True


class IntervalScheduleHistory(IntervalSchedule):
    class Meta:
        proxy = True


class CrontabScheduleHistory(CrontabSchedule):
    class Meta:
        proxy = True


class SolarScheduleHistory(SolarSchedule):
    class Meta:
        proxy = True


class ClockedScheduleHistory(ClockedSchedule):
    class Meta:
        proxy = True


class GroupHistory(Group):
    class Meta:
        proxy = True


class UserGroupHistory(User.groups.through):  # type: ignore[name-defined]
    """Group membership: the rows of the users-to-groups table."""

    class Meta:
        proxy = True


class GroupPermissionHistory(Group.permissions.through):  # type: ignore[name-defined]
    class Meta:
        proxy = True


class ChangeProposalHistory(ChangeProposal):
    class Meta:
        proxy = True


TRACKED: dict[str, type[models.Model]] = {
    "RiskRuleEvent": RiskRuleHistory,
    "ChannelEvent": ChannelHistory,
    "BlocklistEntryEvent": BlocklistEntryHistory,
    "PeriodicTaskEvent": PeriodicTaskHistory,
    "IntervalScheduleEvent": IntervalScheduleHistory,
    "CrontabScheduleEvent": CrontabScheduleHistory,
    "SolarScheduleEvent": SolarScheduleHistory,
    "ClockedScheduleEvent": ClockedScheduleHistory,
    "GroupEvent": GroupHistory,
    "UserGroupEvent": UserGroupHistory,
    "GroupPermissionEvent": GroupPermissionHistory,
    "ChangeProposalEvent": ChangeProposalHistory,
}

for _name, _proxy in TRACKED.items():
    pghistory.create_event_model(
        _proxy,
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        model_name=_name,
        app_label="project",
        abstract=False,
        # The beat bumps a task's run count and last run on every run: not changes to a control.
        exclude=["last_run_at", "total_run_count", "date_changed"] if _proxy is PeriodicTaskHistory else None,
        meta={"verbose_name": _proxy._meta.concrete_model._meta.verbose_name},  # type: ignore[union-attr]
    )
