"""The admin side of changes to controls: a control's saves, deletes and actions become
proposals (config.controls.services) instead of writes, unless ``applies_directly`` says the
change is one of the few switches a single person may flip."""

from django import forms
from django.contrib import messages
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.controls.models import ChangeProposal
from config.controls.registry import control_of
from config.controls.services import proposal_submit
from wallet.errors import ApplicationError

PROPOSE = "project.propose_changeproposal"
REASON = "change_reason"
Operation = ChangeProposal.Operation


class ProposedChangesMixin:
    """Mixed into a control's ModelAdmin, before the admin class it changes."""

    # The add and change forms ask the proposer why (the proposal's reason); False where the
    # form has a reason of its own.
    asks_reason = True

    def _asks_reason(self, request, obj) -> bool:
        if not self.asks_reason or not self.may_propose(request, obj):
            return False
        if obj is None:
            return self.has_add_permission(request)  # type: ignore[attr-defined]
        return self.has_change_permission(request, obj)  # type: ignore[attr-defined]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if not self._asks_reason(request, obj):
            return fieldsets
        return [*fieldsets, (_("Proposal"), {"fields": [REASON]})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if kwargs.get("fields"):
            kwargs["fields"] = [name for name in kwargs["fields"] if name != REASON]
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        if not self._asks_reason(request, obj):
            return form
        reason = forms.CharField(
            label=_("Reason for the change"),
            max_length=255,
            required=False,
            help_text=_("Why the change is needed: the finance supervisor who approves it reads this."),
        )
        return type(form.__name__, (form,), {REASON: reason})

    def applies_directly(self, request, obj, form, change) -> bool:
        return False

    def save_directly(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def may_propose(self, request, obj=None) -> bool:
        return request.user.has_perm(PROPOSE) and self.has_view_permission(request, obj)  # type: ignore[attr-defined]

    def propose(self, request, operation: str, obj: models.Model, many=None, reason: str = "") -> None:
        try:
            proposal = proposal_submit(actor=request.user, operation=operation, obj=obj, many=many, reason=reason)
        except ApplicationError as error:
            self.message_user(request, f"{obj}: {error.message}", messages.WARNING)
            return
        request.control_proposals = [*getattr(request, "control_proposals", []), proposal]
        request.control_proposed = {*getattr(request, "control_proposed", set()), id(obj)}
        self.message_user(
            request,
            gettext("Proposed: %(proposal)s. It takes effect when a finance supervisor approves it.")
            % {"proposal": proposal},
            messages.INFO,
        )

    def save_model(self, request, obj, form, change):
        if self.applies_directly(request, obj, form, change):
            self.save_directly(request, obj, form, change)
            request.control_applied = getattr(request, "control_applied", 0) + 1
            return
        many = {
            name: [related.pk for related in form.cleaned_data[name]]
            for name in control_of(type(obj)).many
            if name in form.cleaned_data
        }
        operation = Operation.UPDATE if change else Operation.CREATE
        self.propose(request, operation, obj, many, reason=form.cleaned_data.get(REASON, ""))

    def save_related(self, request, form, formsets, change):
        if not hasattr(request, "control_proposals") and self.applies_directly(request, form.instance, form, change):
            super().save_related(request, form, formsets, change)  # type: ignore[misc]

    def delete_model(self, request, obj):
        self.propose(request, Operation.DELETE, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.order_by("pk"):
            self.propose(request, Operation.DELETE, obj)

    # Django's log and its "changed successfully" speak of what was saved: a proposal was not.
    def log_addition(self, request, obj, message):
        if id(obj) not in getattr(request, "control_proposed", ()):
            return super().log_addition(request, obj, message)  # type: ignore[misc]
        return None

    def log_change(self, request, obj, message):
        if id(obj) not in getattr(request, "control_proposed", ()):
            return super().log_change(request, obj, message)  # type: ignore[misc]
        return None

    def log_deletions(self, request, queryset):
        """Deleting is always proposed: nothing to log yet."""

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if (
            level == messages.SUCCESS
            and hasattr(request, "control_proposals")
            and not hasattr(request, "control_applied")
        ):
            return
        super().message_user(request, message, level, *args, **kwargs)  # type: ignore[misc]

    def _to_proposals(self, request):
        if request.user.has_perm("project.view_changeproposal"):
            return HttpResponseRedirect(reverse("admin:project_changeproposal_changelist"))
        opts = self.model._meta  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return self._to_proposals(request)
        return super().response_add(request, obj, post_url_continue)  # type: ignore[misc]

    def response_change(self, request, obj):
        if hasattr(request, "control_proposals"):
            return self._to_proposals(request)
        return super().response_change(request, obj)  # type: ignore[misc]

    def response_delete(self, request, obj_display, obj_id):
        return self._to_proposals(request)
