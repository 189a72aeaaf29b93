"""Admin of user-to-user transfers and receive codes (docs/WALLET.md, docs/ARCHITECTURE.md §10).

Transfers held by risk control wait here, oldest first: ``finance_reviewer`` and
``finance_supervisor`` approve them (the hold is captured to the recipient) or reject them with
a reason (the hold is released); each decision is logged with its actor (django-fsm-log). Receive
codes are read-only; staff may revoke them. Every change goes through wallet.transfers.services.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from wallet.adminkit import DateRangeFilter, ReadOnlyMixin
from wallet.errors import ApplicationError
from wallet.models import PeerTransfer, ReceiveCode
from wallet.transfers import services


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=500, strip=True)


class ReviewQueueFilter(admin.SimpleListFilter):
    """The list opens on the review queue (``under_review``); ``all`` shows every transfer."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*PeerTransfer.Status.choices, (self.ALL, "All")]

    def choices(self, changelist):
        current = self.value() or PeerTransfer.Status.UNDER_REVIEW
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or PeerTransfer.Status.UNDER_REVIEW
        return queryset if value == self.ALL else queryset.filter(status=value)


@admin.register(PeerTransfer)
class PeerTransferAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "sender", "recipient", "amount", "status", "receive_code", "guard_reference")
    list_filter = (ReviewQueueFilter, ("created_at", DateRangeFilter))
    list_select_related = ("sender", "recipient")
    search_fields = ("sender__username__exact", "recipient__username__exact")
    search_help_text = _("Exact username of the sender or the recipient.")
    ordering = ("created_at", "id")
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = (
        "sender",
        "recipient",
        "amount",
        "currency",
        "memo",
        "status",
        "status_reason",
        "receive_code",
        "guard_reference",
        "ledger_transfer",
        "hold",
        "idempotency_key",
        "created_at",
        "reviewed_at",
    )

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("wallet.review_peertransfer")

    @admin.action(description=_("Approve the selected transfers"), permissions=["review"])
    def approve_selected(self, request, queryset: QuerySet[PeerTransfer]) -> None:
        done = 0
        for transfer in _ticked(request, queryset):
            try:
                services.transfer_approve(transfer=transfer, actor=request.user)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{transfer}: {error.message}", messages.ERROR)
        if done:
            self.message_user(
                request,
                gettext("%(count)d transfer(s) approved and paid.") % {"count": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Reject the selected transfers"), permissions=["review"])
    def reject_selected(self, request, queryset: QuerySet[PeerTransfer]):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return reason_page(request, self, queryset, form, action="reject_selected", verb=gettext("Reject"))
        done = 0
        for transfer in _ticked(request, queryset):
            try:
                services.transfer_reject(transfer=transfer, actor=request.user, reason=form.cleaned_data["reason"])
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{transfer}: {error.message}", messages.ERROR)
        if done:
            self.message_user(
                request,
                gettext("%(count)d transfer(s) rejected; the money went back.") % {"count": done},
                messages.SUCCESS,
            )
        return None


@admin.register(ReceiveCode)
class ReceiveCodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "owner", "amount", "single_use", "created_at", "expires_at", "revoked_at", "revoked_by")
    list_filter = ("single_use", ("created_at", DateRangeFilter))
    list_select_related = ("owner", "revoked_by")
    search_fields = ("owner__username__exact",)
    search_help_text = _("Exact username of the owner.")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ["revoke_selected"]
    readonly_fields = (
        "owner",
        "amount",
        "currency",
        "memo",
        "single_use",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    )

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("wallet.revoke_receivecode")

    @admin.action(description=_("Revoke the selected receive codes"), permissions=["revoke"])
    def revoke_selected(self, request, queryset: QuerySet[ReceiveCode]) -> None:
        codes = list(queryset.filter(revoked_at__isnull=True).order_by("pk"))
        for code in codes:
            try:
                services.receive_code_revoke(code=code, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{code}: {error.message}", messages.ERROR)
        self.message_user(
            request,
            ngettext("Revoked %(count)d receive code.", "Revoked %(count)d receive codes.", len(codes))
            % {"count": len(codes)},
            messages.SUCCESS,
        )


def _ticked(request, queryset: QuerySet[PeerTransfer]) -> QuerySet[PeerTransfer]:
    """Every transfer the reviewer ticked, oldest first, not only those still matching the list's
    filter: one decided by a colleague meanwhile is then refused by name, never silently skipped."""
    if request.POST.get("select_across") == "1":
        return queryset.order_by("created_at", "id")
    ticked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    return PeerTransfer.objects.filter(pk__in=ticked).order_by("created_at", "id")


def reason_page(request, model_admin, queryset, form, *, action: str, verb: str):
    """The intermediate page of a bulk action that needs a reason."""
    count = queryset.count()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": ngettext("%(verb)s %(count)d item", "%(verb)s %(count)d items", count)
        % {"verb": verb, "count": count},
        "opts": model_admin.opts,
        "queryset": queryset,
        "form": form,
        "action": action,
        "verb": verb,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/wallet/reason_action.html", context)
