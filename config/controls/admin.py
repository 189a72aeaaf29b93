"""The "Change proposals" list: finance supervisors approve or reject others' changes to
controls; auditors and the proposers read them. Each proposal shows its change as a table of
the columns that differ, before and after."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from config.controls import services
from config.controls.models import ChangeProposal
from config.controls.snapshots import snapshot_diff
from wallet.adminkit import ReadOnlyMixin
from wallet.errors import ApplicationError

APPROVE = "project.approve_changeproposal"


@admin.register(ChangeProposal)
class ChangeProposalAdmin(ReadOnlyMixin, admin.ModelAdmin):
    change_form_template = "admin/project/changeproposal/change_form.html"
    list_display = (
        "id",
        "proposed_at",
        "content_type",
        "object_repr",
        "operation",
        "status",
        "proposed_by",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "operation", "content_type")
    list_select_related = ("content_type", "proposed_by", "decided_by")
    search_fields = ("object_repr",)
    ordering = ("-proposed_at", "-id")
    fields = (
        "content_type",
        "object_id",
        "object_repr",
        "operation",
        "changes",
        "reason",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
    )
    readonly_fields = fields
    actions = ("approve_selected", "reject_selected")

    @admin.display(description=_("changes"))
    def changes(self, proposal: ChangeProposal) -> str:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (name, _shown(old), _shown(new))
                for name, (old, new) in snapshot_diff(proposal.before, proposal.after).items()
            ),
        )
        return format_html(
            '<table class="proposal-diff"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            gettext("column"),
            gettext("before"),
            gettext("after"),
            rows,
        )

    def has_approve_permission(self, request) -> bool:
        return request.user.has_perm(APPROVE)

    def get_urls(self):
        decide = self.admin_site.admin_view(require_POST(self.decide_view))
        return [
            path("<path:object_id>/<str:decision>/", decide, name="project_changeproposal_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, unquote(object_id))
        may_decide = (
            proposal is not None
            and proposal.status == ChangeProposal.Status.PENDING
            and proposal.proposed_by_id != request.user.pk
            and self.has_approve_permission(request)
        )
        extra_context = {**(extra_context or {}), "may_decide": may_decide}
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id, decision):
        proposal = get_object_or_404(ChangeProposal, pk=unquote(object_id))
        if decision not in ("approve", "reject") or not self.has_view_permission(request, proposal):
            raise PermissionDenied
        self._decide(request, proposal, decision)
        return HttpResponseRedirect(reverse("admin:project_changeproposal_change", args=[proposal.pk]))

    @admin.action(description=_("Approve the selected proposals"), permissions=["approve"])
    def approve_selected(self, request, queryset):
        for proposal in queryset.order_by("pk"):
            self._decide(request, proposal, "approve")

    @admin.action(description=_("Reject the selected proposals"), permissions=["approve"])
    def reject_selected(self, request, queryset):
        for proposal in queryset.order_by("pk"):
            self._decide(request, proposal, "reject")

    def _decide(self, request, proposal: ChangeProposal, decision: str) -> None:
        service = services.proposal_approve if decision == "approve" else services.proposal_reject
        try:
            proposal = service(proposal=proposal, actor=request.user)
        except ApplicationError as error:
            self.message_user(request, f"{proposal}: {error.message}", messages.ERROR)
            return
        except ValidationError as error:  # the model's own checks (full_clean) refuse the change
            self.message_user(request, f"{proposal}: {'; '.join(error.messages)}", messages.ERROR)
            return
        if proposal.status == ChangeProposal.Status.STALE:
            self.message_user(
                request,
                gettext("%(proposal)s: the object changed since it was proposed; nothing was applied.")
                % {"proposal": proposal},
                messages.ERROR,
            )
            return
        self.message_user(
            request,
            gettext("%(proposal)s: %(status)s.") % {"proposal": proposal, "status": proposal.get_status_display()},
        )


def _shown(value) -> str:
    return "—" if value is None else str(value)
