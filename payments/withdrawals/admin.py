"""The withdrawal approval queue and payout accounts in the admin (docs/ARCHITECTURE.md §10).

The admin is a client of payments.withdrawals.services: approve and reject (one at a time from the order's
page, or in bulk from the queue) call the services and show their errors; nothing that moves
money is editable, for superusers neither. Buttons and actions are offered only where the
order's state and the staff member's permissions allow them; the services check again under
the row lock, so a stale page changes nothing.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_fsm import can_proceed, has_transition_perm

from payments import encryption, identifiers
from payments.withdrawals import queue_display, selectors, services
from payments.withdrawals.filters import PayoutChannelFilter, QueueStatusFilter
from payments.withdrawals.models import (
    PayoutAccount,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalStatus,
    WithdrawalTransition,
)
from payments.withdrawals.resources import WithdrawalResource, WithdrawalTransitionResource
from risk import services as risk_services
from wallet.adminkit import DateRangeFilter, ReadOnlyMixin, StreamingExportMixin, TransitionLogAdmin
from wallet.errors import ApplicationError
from wallet.models import Account
from wallet.money import ZERO

RECENT_DAYS = 30


def _recent_days_text() -> str:
    return ngettext("last %(days)d day", "last %(days)d days", RECENT_DAYS) % {"days": RECENT_DAYS}


# Formatted when shown, so the column's title is in the reader's language, not in the one
# active when this module was imported.
_recent_days_label = lazy(_recent_days_text, str)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=500, strip=True
    )


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "user", "kind", "display", "masked_holder", "created_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username__exact",)
    search_help_text = _(
        "A full card number, openid or Alipay login id (matched by its blind index), or an exact username."
    )
    fields = ("user", "kind", "display", "bank_code", "masked_holder", "created_at")
    readonly_fields = ("display",)
    ordering = ("-created_at", "-id")
    actions = ["blocklist_selected"]

    def get_search_results(self, request, queryset, search_term):
        """A typed card number or openid is hashed, never compared in clear: the column is sealed."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            digits = "".join(term.split()).replace("-", "")
            indexes = [
                encryption.blind_index(term, field=PayoutAccount.OPENID),
                encryption.blind_index(digits, field=PayoutAccount.CARD_NUMBER),
            ]
            login = _alipay_login(term)
            if login:
                indexes.append(encryption.blind_index(login, field=PayoutAccount.ALIPAY_LOGIN))
            results = results | queryset.filter(lookup_index__in=indexes)
        return results, may_have_duplicates

    def has_blocklist_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("risk.add_blocklistentry")

    @admin.action(description=_("Add the selected payout accounts to the blocklist"), permissions=["blocklist"])
    def blocklist_selected(self, request, queryset: QuerySet[PayoutAccount]):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _reason_page(request, self, queryset, form, action="blocklist_selected", verb=_("Blocklist"))
        for account in queryset:
            risk_services.blocklist_add(
                kind="payout_account",
                fingerprint=account.lookup_index,
                label=account.display,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        count = queryset.count()
        message = ngettext(
            "%(count)d payout account is on the blocklist.", "%(count)d payout accounts are on the blocklist.", count
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        return None


class ApprovalInline(ReadOnlyMixin, admin.TabularInline):
    model = WithdrawalApproval
    fields = ("actor", "as_supervisor", "note", "created_at")
    extra = 0


@admin.register(Withdrawal)
class WithdrawalAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    """The approval queue: six narrow columns that fit a 1366-px laptop beside the navigation and
    the filters; each cell stacks what belongs together (the order, who and since when; the
    amount and its fee; the status and who approved)."""

    resource_classes = [WithdrawalResource]
    change_list_template = "admin/wallet/ledger_change_list.html"
    change_form_template = "admin/payments/withdrawal/change_form.html"
    list_display = (
        "order",
        "amount_with_fee",
        "available_balance",
        "risk_reasons",
        "recent_history",
        "approval_state",
    )
    # The order cell links to the order itself, beside the user's name and the waiting time.
    list_display_links = None
    list_filter = (
        QueueStatusFilter,
        ("channel", PayoutChannelFilter),
        "approvals_required",
        ("created_at", DateRangeFilter),
    )
    search_fields = ("order_no__exact", "user__username__exact")
    search_help_text = _("Exact order number or username.")
    ordering = ("created_at", "id")
    actions = ["approve_selected", "reject_selected"]
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {"fields": ("order_no", "status", "user", "created_at", "approved_at", "dispatched_at", "finished_at")},
        ),
        (_("Money"), {"fields": ("amount", "fee", "actual_amount", "currency", "available_balance", "channel")}),
        (_("Payout account"), {"fields": ("payout_account_display", "payout_account_holder")}),
        (
            _("Risk"),
            {"fields": ("risk_outcome", "risk_reasons", "risk_inputs", "recent_history", "approvals_given")},
        ),
        (_("Outcome"), {"fields": ("status_reason", "failure_code", "channel_reference")}),
    )
    readonly_fields = (
        "available_balance",
        "payout_account_display",
        "payout_account_holder",
        "risk_outcome",
        "risk_reasons",
        "risk_inputs",
        "recent_history",
        "approvals_given",
    )
    inlines = [ApprovalInline]

    class Media:
        css = {"all": ["payments/admin/withdrawal-queue.css"]}

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=RECENT_DAYS)
        recent = Withdrawal.objects.filter(user=OuterRef("user"), created_at__gte=since).values("user")
        available = Account.objects.filter(
            owner=OuterRef("user"), kind=Account.Kind.USER, currency=OuterRef("currency")
        )
        approvals = WithdrawalApproval.objects.select_related("actor").order_by("created_at", "id")
        return (
            super()
            .get_queryset(request)
            .select_related("user", "channel", "payout_account", "risk_evaluation")
            .prefetch_related(Prefetch("approvals", queryset=approvals))
            .annotate(
                available=Subquery(
                    available.values(
                        value=ExpressionWrapper(
                            F("balance") - F("held"), output_field=DecimalField(max_digits=18, decimal_places=2)
                        )
                    )[:1]
                ),
                recent_count=Subquery(recent.annotate(n=Count("id")).values("n")),
                recent_total=Subquery(
                    recent.exclude(status__in=Withdrawal.RELEASED_STATUSES).annotate(t=Sum("amount")).values("t")
                ),
            )
        )

    def get_export_queryset(self, request):
        """The filtered queue, with each order's approvers fetched in one more query, not one per row."""
        return super().get_export_queryset(request).prefetch_related("approvals__actor")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(require_POST(self.approve_view)),
                name="%s_%s_approve" % info,  # noqa: UP031 - Django's own naming pattern
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(require_POST(self.reject_view)),
                name="%s_%s_reject" % info,  # noqa: UP031
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        withdrawal = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "review": _review_context(request, withdrawal)}
        return super().change_view(request, object_id, form_url, extra_context)

    def approve_view(self, request, object_id):
        withdrawal = self._get_for_review(request, object_id)
        try:
            withdrawal = services.withdrawal_approve(withdrawal=withdrawal, actor=request.user)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(withdrawal))
        self.message_user(request, _approval_message(withdrawal), messages.SUCCESS)
        return HttpResponseRedirect(self._queue_url())

    def reject_view(self, request, object_id):
        withdrawal = self._get_for_review(request, object_id)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("A rejection needs a reason."), messages.ERROR)
            return HttpResponseRedirect(self._change_url(withdrawal))
        try:
            withdrawal = services.withdrawal_reject(
                withdrawal=withdrawal, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(withdrawal))
        self.message_user(
            request,
            _("%(order_no)s is rejected; the money is back in the wallet.") % {"order_no": withdrawal.order_no},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._queue_url())

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.approve_withdrawal")

    @admin.action(description=_("Approve the selected withdrawals"), permissions=["approve"])
    def approve_selected(self, request, queryset: QuerySet[Withdrawal]):
        done = 0
        for withdrawal in _ticked(request, queryset):
            try:
                services.withdrawal_approve(withdrawal=withdrawal, actor=request.user)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{withdrawal.order_no}: {error.message}", messages.ERROR)
        if done:
            message = ngettext("%(count)d approval recorded.", "%(count)d approvals recorded.", done)
            self.message_user(request, message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Reject the selected withdrawals"), permissions=["approve"])
    def reject_selected(self, request, queryset: QuerySet[Withdrawal]):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _reason_page(request, self, queryset, form, action="reject_selected", verb=_("Reject"))
        done = 0
        for withdrawal in _ticked(request, queryset):
            try:
                services.withdrawal_reject(
                    withdrawal=withdrawal, actor=request.user, reason=form.cleaned_data["reason"]
                )
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{withdrawal.order_no}: {error.message}", messages.ERROR)
        if done:
            message = ngettext("%(count)d withdrawal rejected.", "%(count)d withdrawals rejected.", done)
            self.message_user(request, message % {"count": done}, messages.SUCCESS)
        return None

    @admin.display(description=_("order"), ordering="created_at")
    def order(self, withdrawal: Withdrawal) -> str:
        return queue_display.order_cell(withdrawal, url=self._change_url(withdrawal), now=timezone.now())

    @admin.display(description=_("amount"), ordering="amount")
    def amount_with_fee(self, withdrawal: Withdrawal) -> str:
        return queue_display.amount_cell(withdrawal)

    @admin.display(description=_("available"))
    def available_balance(self, withdrawal: Withdrawal) -> str:
        return queue_display.money_cell(withdrawal.available)  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description=_("risk"))
    def risk_reasons(self, withdrawal: Withdrawal) -> str:
        return queue_display.risk_cell(withdrawal.risk_evaluation.hits)

    @admin.display(description=_("risk outcome"))
    def risk_outcome(self, withdrawal: Withdrawal) -> str:
        evaluation = withdrawal.risk_evaluation
        required = evaluation.approvals_required
        message = ngettext(
            "%(outcome)s, %(count)d approval required", "%(outcome)s, %(count)d approvals required", required
        )
        return message % {"outcome": evaluation.get_outcome_display(), "count": required}

    @admin.display(description=_("risk inputs"))
    def risk_inputs(self, withdrawal: Withdrawal) -> str:
        return queue_display.risk_inputs_table(withdrawal.risk_evaluation.inputs)

    @admin.display(description=_recent_days_label())
    def recent_history(self, withdrawal: Withdrawal) -> str:
        count = withdrawal.recent_count or 0  # type: ignore[attr-defined]  # annotated by get_queryset
        total = withdrawal.recent_total or ZERO  # type: ignore[attr-defined]
        return queue_display.history_cell(count=count, not_released=total)

    @admin.display(description=_("status"), ordering="status")
    def approval_state(self, withdrawal: Withdrawal) -> str:
        return queue_display.approval_cell(withdrawal, list(withdrawal.approvals.all()))

    @admin.display(description=_("approvals"))
    def approvals_given(self, withdrawal: Withdrawal) -> str:
        return queue_display.approvals_summary(withdrawal, list(withdrawal.approvals.all()))

    @admin.display(description=_("payout account"))
    def payout_account_display(self, withdrawal: Withdrawal) -> str:
        return f"{withdrawal.payout_account.get_kind_display()}: {withdrawal.payout_account.display}"

    @admin.display(description=_("holder"))
    def payout_account_holder(self, withdrawal: Withdrawal) -> str:
        return withdrawal.payout_account.masked_holder or "-"

    def _get_for_review(self, request, object_id) -> Withdrawal:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Withdrawal, pk=unquote(object_id))

    def _change_url(self, withdrawal: Withdrawal) -> str:
        return reverse("admin:payments_withdrawal_change", args=[withdrawal.pk])

    def _queue_url(self) -> str:
        return reverse("admin:payments_withdrawal_changelist")


@admin.register(WithdrawalTransition)
class WithdrawalTransitionAdmin(TransitionLogAdmin):
    """Every withdrawal transition with its actor and reason, exportable for auditors."""

    resource_classes = [WithdrawalTransitionResource]
    numbered = Withdrawal
    number_field = "order_no"


def _alipay_login(term: str) -> str:
    """The term as an Alipay login id is bound (a mobile number's 11 digits, an email in lower
    case), or empty when it is not one."""
    try:
        return identifiers.alipay_login_normalise(term)
    except ApplicationError:
        return ""


def _approval_message(withdrawal: Withdrawal) -> str:
    values = {"order_no": withdrawal.order_no}
    if withdrawal.status == WithdrawalStatus.APPROVED:
        return _("%(order_no)s is approved.") % values
    if withdrawal.approvals.filter(as_supervisor=True).exists():
        return _("%(order_no)s: your approval is recorded; a second person's is still needed.") % values
    return _("%(order_no)s: your approval is recorded; a supervisor's is still needed.") % values


def _review_context(request, withdrawal: Withdrawal | None) -> dict:
    """What the order's page offers this staff member: only transitions they may take now."""
    if withdrawal is None:
        return {}
    refusal = selectors.withdrawal_approval_refusal(withdrawal=withdrawal, actor=request.user)
    may_reject = can_proceed(withdrawal.reject) and has_transition_perm(withdrawal.reject, request.user)
    return {
        "can_approve": refusal is None,
        "approve_refusal": refusal.message if refusal and withdrawal.status == WithdrawalStatus.PENDING else "",
        "can_reject": may_reject,
        "approve_url": reverse("admin:payments_withdrawal_approve", args=[withdrawal.pk]),
        "reject_url": reverse("admin:payments_withdrawal_reject", args=[withdrawal.pk]),
        "reason_form": ReasonForm(),
        "hits": [
            {
                **hit,
                "observed": queue_display.compact_number(hit["observed"]),
                "limit": queue_display.compact_number(hit["limit"]),
            }
            for hit in withdrawal.risk_evaluation.hits
        ],
        "transitions": WithdrawalTransition.objects.filter(object_id=withdrawal.pk)
        .select_related("by")
        .order_by("timestamp", "id"),
    }


def _ticked(request, queryset: QuerySet[Withdrawal]) -> QuerySet[Withdrawal]:
    """Every order the reviewer ticked, oldest first, not only those still matching the list's
    filter: one decided by a colleague meanwhile is then refused by name, never silently skipped."""
    if request.POST.get("select_across") == "1":
        return queryset.order_by("created_at", "id")
    ticked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    return Withdrawal.objects.filter(pk__in=ticked).order_by("created_at", "id")


def _reason_page(request, model_admin, queryset, form, *, action: str, verb: str | Promise):
    """The intermediate page of a bulk action that needs a reason."""
    count = queryset.count()
    title = ngettext("%(verb)s %(count)d item", "%(verb)s %(count)d items", count) % {"verb": verb, "count": count}
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "queryset": queryset,
        "form": form,
        "action": action,
        "verb": verb,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/payments/reason_action.html", context)
