"""The reconciliation desk in the admin (docs/RECONCILIATION.md, docs/ARCHITECTURE.md §10).

Every row here is read-only, for superusers too. Runs, bills, pool items and fee bookings are
looked at and exported; a failed run is re-run, a bill uploaded, and a discrepancy worked only
through buttons that call reconciliation.services and reconciliation.desk and show their errors.
Buttons are offered where the row's state and the staff member's permissions allow them; the
services check again under the row lock, so a stale page changes nothing. Stored bills are
served by an admin view that checks the view permission, never from MEDIA_URL.
"""

import tempfile
from datetime import timedelta
from pathlib import Path

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import BigIntegerField, Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from payments.channels.bills import BillKind
from payments.orders.models import PaymentOrder, Refund
from payments.withdrawals.models import Withdrawal
from reconciliation import bills, desk, matching, services
from reconciliation.forms import BillUploadForm, ProposalForm, ReasonForm, errors_text
from reconciliation.models import (
    WORK,
    BillFile,
    Discrepancy,
    DiscrepancyTransition,
    FeeBooking,
    PoolItem,
    Run,
)
from reconciliation.resources import DiscrepancyResource, DiscrepancyTransitionResource, RunResource
from wallet import errors
from wallet.adminkit import DateRangeFilter, ReadOnlyMixin, StreamingExportMixin, TransitionLogAdmin

UPLOAD = "reconciliation.add_billfile"
RERUN = "reconciliation.rerun_run"
VIEW_BILLS = "reconciliation.view_billfile"
VIEW_DISCREPANCIES = "reconciliation.view_discrepancy"
# The run's count of each discrepancy kind, as Run fields.
DISCREPANCY_COUNTS = tuple(str(outcome) for outcome in matching.DISCREPANCY_OUTCOMES)
# Each object kind's model, its number field and its admin page.
ORDER_PAGES = {
    "payment": (PaymentOrder, "order_no", "admin:payments_paymentorder_change"),
    "refund": (Refund, "refund_no", "admin:payments_refund_change"),
    "payout": (Withdrawal, "order_no", "admin:payments_withdrawal_change"),
}
ACTIVE = (Discrepancy.Status.OPEN, Discrepancy.Status.INVESTIGATING)
# The queue: open first, then those being investigated, then the closed; oldest first in each.
QUEUE_RANK = Case(
    When(status=Discrepancy.Status.OPEN, then=Value(0)),
    When(status=Discrepancy.Status.INVESTIGATING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
DESK_STEPS = ("investigate", "requery", "propose", "approve", "withdraw", "ignore", "resolve")
# Steps after which the discrepancy is closed: back to the queue.
CLOSING_STEPS = ("approve", "ignore", "resolve")
TIME_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def elapsed(delta: timedelta) -> str:
    """``"2 h 14 min"``: the largest unit and the next; seconds with a decimal under ten."""
    total = delta.total_seconds()
    if total < 10:
        return f"{max(total, 0):.1f} s"
    seconds = int(total)
    for index, (name, size) in enumerate(TIME_UNITS[:-1]):
        if seconds >= size:
            next_name, next_size = TIME_UNITS[index + 1]
            rest = seconds % size // next_size
            return f"{seconds // size} {name} {rest} {next_name}" if rest else f"{seconds // size} {name}"
    return f"{seconds} s"


def _url(model: str, view: str, *args) -> str:
    return reverse(f"admin:reconciliation_{model}_{view}", args=args)


def _run_outcome(run: Run) -> str:
    if run.status == Run.Status.SUCCEEDED:
        found = sum(getattr(run, name) for name in DISCREPANCY_COUNTS)
        return gettext("%(run)s: %(lines)s bill line(s), %(matched)s matched, %(found)s discrepancy(ies).") % {
            "run": run,
            "lines": run.bill_lines,
            "matched": run.matched,
            "found": found,
        }
    if run.status == Run.Status.FAILED:
        return gettext("%(run)s: the run failed: %(error)s") % {"run": run, "error": run.error}
    return f"{run}: {run.get_status_display().lower()}."


def _run_level(run: Run) -> int:
    return messages.SUCCESS if run.status == Run.Status.SUCCEEDED else messages.WARNING


@admin.register(Run)
class RunAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    resource_classes = [RunResource]
    change_form_template = "admin/reconciliation/run/change_form.html"
    list_display = (
        "bill_date",
        "channel",
        "kind",
        "status",
        "bill_lines",
        "bill_amount",
        "local_records",
        "local_amount",
        "matched",
        "discrepancy_counts",
        "pooled",
        "pool_settled",
        "fees_booked",
        "clearing_difference",
        "duration_display",
        "started_at",
    )
    list_filter = ("channel", "kind", "status", ("bill_date", DateRangeFilter))
    list_select_related = ("channel",)
    ordering = ("-bill_date", "-id")
    show_full_result_count = False
    actions = ["rerun_selected"]
    readonly_fields = ("duration_display", "bill_file_link", "bill_file_name", "discrepancies_link")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "file", "started_by")

    def get_fieldsets(self, request, obj=None):
        run_fields = ["channel", "bill_date", "kind", "status", "started_by", "started_at", "finished_at"]
        run_fields.append("duration_display")
        if obj is not None and obj.status == Run.Status.FAILED:
            run_fields.append("error")
        bill_file = "bill_file_link" if request.user.has_perm(VIEW_BILLS) else "bill_file_name"
        outcome = ["matched", *DISCREPANCY_COUNTS, "pooled", "pool_settled", "fees_booked"]
        if request.user.has_perm(VIEW_DISCREPANCIES):
            outcome.append("discrepancies_link")
        return (
            (None, {"fields": run_fields}),
            (_("Bill"), {"fields": (bill_file, "bill_lines", "bill_amount")}),
            (_("Our books"), {"fields": ("local_records", "local_amount")}),
            (_("Matching"), {"fields": outcome}),
            (_("Clearing account"), {"fields": ("clearing_balance", "clearing_expected", "clearing_difference")}),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/rerun/",
                self.admin_site.admin_view(require_POST(self.rerun_view)),
                name="reconciliation_run_rerun",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, unquote(object_id))
        rerun_url = ""
        if run is not None and run.status == Run.Status.FAILED and self.has_rerun_permission(request):
            rerun_url = _url("run", "rerun", run.pk)
        extra_context = {**(extra_context or {}), "rerun_url": rerun_url}
        return super().change_view(request, object_id, form_url, extra_context)

    def rerun_view(self, request, object_id):
        run = get_object_or_404(Run, pk=unquote(object_id))
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        if not self.has_rerun_permission(request):
            self.message_user(request, gettext("You may not re-run reconciliations."), messages.ERROR)
            return HttpResponseRedirect(_url("run", "change", run.pk))
        fresh = self._rerun(request, run)
        return HttpResponseRedirect(_url("run", "change", (fresh or run).pk))

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RERUN)

    @admin.action(description=_("Re-run the selected failed runs"), permissions=["rerun"])
    def rerun_selected(self, request, queryset: QuerySet[Run]):
        for run in queryset.order_by("bill_date", "id"):
            self._rerun(request, run)

    def _rerun(self, request, run: Run) -> Run | None:
        try:
            fresh = services.run_rerun(run=run, user=request.user)
        except errors.ApplicationError as error:
            self.message_user(request, f"{run}: {error.message}", messages.ERROR)
            return None
        self.message_user(request, _run_outcome(fresh), _run_level(fresh))
        return fresh

    @admin.display(description=_("discrepancies"))
    def discrepancy_counts(self, run: Run) -> str:
        labels = {field.name: field.verbose_name for field in Run._meta.fields}
        found = [(labels[name], getattr(run, name)) for name in DISCREPANCY_COUNTS]
        return ", ".join(f"{label} {count}" for label, count in found if count) or "-"

    @admin.display(description=_("duration"))
    def duration_display(self, run: Run) -> str:
        return elapsed(run.duration) if run.duration is not None else "-"

    @admin.display(description=_("file"))
    def bill_file_link(self, run: Run) -> str:
        if run.file is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a> (<a href="{}" id="bill-download">{}</a>)',
            _url("billfile", "change", run.file.pk),
            run.file.filename,
            _url("billfile", "download", run.file.pk),
            gettext("download"),
        )

    @admin.display(description=_("file"))
    def bill_file_name(self, run: Run) -> str:
        return run.file.filename if run.file is not None else "-"

    @admin.display(description=_("discrepancies"))
    def discrepancies_link(self, run: Run) -> str:
        return format_html(
            '<a href="{}?run__id__exact={}">{} found by this run</a>',
            _url("discrepancy", "changelist"),
            run.pk,
            run.discrepancies.count(),
        )


@admin.register(BillFile)
class BillFileAdmin(ReadOnlyMixin, admin.ModelAdmin):
    change_list_template = "admin/reconciliation/billfile/change_list.html"
    list_display = (
        "bill_date",
        "channel",
        "kind",
        "source",
        "uploaded_by",
        "line_count",
        "amount_total",
        "fee_total",
        "status",
        "superseded_by_link",
        "sha256",
    )
    list_filter = ("channel", "kind", "source", "status", ("bill_date", DateRangeFilter))
    list_select_related = ("channel", "uploaded_by", "superseded_by")
    search_fields = ("sha256__exact", "filename__exact")
    search_help_text = _("Exact SHA-256 or file name.")
    ordering = ("-bill_date", "-id")
    show_full_result_count = False
    # Never the FileField itself: Django would link it to MEDIA_URL.
    fields = (
        "channel",
        "bill_date",
        "kind",
        "status",
        "superseded_by_link",
        "source",
        "uploaded_by",
        "created_at",
        "download",
        "size",
        "sha256",
        "line_count",
        "amount_total",
        "fee_total",
    )
    readonly_fields = ("superseded_by_link", "download")

    def get_urls(self):
        # Before the default ones: "<path:object_id>/" would take "upload/" for an object.
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="reconciliation_billfile_upload"),
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="reconciliation_billfile_download",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        upload_url = _url("billfile", "upload") if self.has_upload_permission(request) else ""
        return super().changelist_view(request, {**(extra_context or {}), "upload_url": upload_url})

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(UPLOAD)

    def download_view(self, request, object_id):
        bill = get_object_or_404(BillFile, pk=unquote(object_id))
        if not self.has_view_permission(request, bill):
            raise PermissionDenied
        try:
            stream = bill.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404(gettext("The stored file is missing.")) from exc
        return FileResponse(stream, as_attachment=True, filename=bill.filename)

    def upload_view(self, request):
        """The bill is imported and run at once; a malformed file is refused and kept nowhere."""
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = BillUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = _bill_upload(form.cleaned_data, request.user)
            except errors.ApplicationError as error:
                form.add_error("file" if isinstance(error, bills.BillRefused) else None, error.message)
            else:
                self.message_user(request, _run_outcome(run), _run_level(run))
                return HttpResponseRedirect(_url("run", "change", run.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Upload a bill"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/reconciliation/billfile/upload.html", context)

    @admin.display(description=_("superseded by"))
    def superseded_by_link(self, bill: BillFile) -> str:
        if bill.superseded_by is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', _url("billfile", "change", bill.superseded_by.pk), bill.superseded_by.filename
        )

    @admin.display(description=_("file"))
    def download(self, bill: BillFile) -> str:
        return format_html(
            '<a href="{}" id="bill-download">{}</a> ({} bytes)',
            _url("billfile", "download", bill.pk),
            bill.filename,
            bill.size,
        )


def _bill_upload(data: dict, user) -> Run:
    """The upload copied to a temporary file in chunks (never whole in memory), then imported."""
    upload = data["file"]
    with tempfile.TemporaryDirectory(prefix="bill-upload-") as directory:
        path = Path(directory) / "bill"
        with path.open("wb") as stream:
            for chunk in upload.chunks():
                stream.write(chunk)
        return services.bill_upload(
            channel=data["channel"],
            bill_date=data["bill_date"],
            kind=BillKind(data["kind"]),
            path=path,
            filename=upload.name,
            user=user,
        )


@admin.register(Discrepancy)
class DiscrepancyAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    resource_classes = [DiscrepancyResource]
    change_form_template = "admin/reconciliation/discrepancy/change_form.html"
    list_display = (
        "id",
        "kind",
        "channel",
        "bill_date",
        "object_kind",
        "order_link",
        "local_amount",
        "channel_amount",
        "local_status",
        "channel_status",
        "local_fee",
        "channel_fee",
        "status",
        "age",
        "proposal",
        "approved_by",
    )
    list_filter = ("status", "kind", "channel", ("bill_date", DateRangeFilter))
    list_select_related = ("channel", "proposed_by", "approved_by")
    search_fields = ("order_no__exact",)
    search_help_text = _("Exact order number.")
    ordering = (QUEUE_RANK.asc(), "created_at", "id")  # type: ignore[assignment]  # Django takes expressions
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "kind",
                    "status",
                    "channel",
                    "bill_date",
                    "run",
                    "object_kind",
                    "order_link",
                    "detail",
                    "created_at",
                    "age",
                    "finished_at",
                )
            },
        ),
        (
            _("Ours and the channel's"),
            {
                "fields": (
                    "local_amount",
                    "channel_amount",
                    "local_status",
                    "channel_status",
                    "local_fee",
                    "channel_fee",
                )
            },
        ),
        (
            _("Proposal"),
            {
                "fields": (
                    "proposed_action",
                    "proposed_amount",
                    "proposed_by",
                    "proposed_at",
                    "proposal_reason",
                    "approved_by",
                )
            },
        ),
        (_("Outcome"), {"fields": ("resolution",)}),
    )
    readonly_fields = ("order_link", "age")

    def get_queryset(self, request):
        """Each row's order id in the same query (no lookup per row), for the link to its page."""
        order_pk = Case(
            *(
                When(
                    object_kind=kind,
                    then=Subquery(model._default_manager.filter(**{field: OuterRef("order_no")}).values("pk")[:1]),
                )
                for kind, (model, field, _) in ORDER_PAGES.items()
            ),
            default=None,
            output_field=BigIntegerField(),
        )
        return super().get_queryset(request).annotate(order_pk=order_pk)

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("channel", "proposed_by", "approved_by")

    def get_urls(self):
        return [
            path(
                f"<path:object_id>/{step}/",
                self.admin_site.admin_view(require_POST(self.desk_view)),
                {"step": step},
                name=f"reconciliation_discrepancy_{step}",
            )
            for step in DESK_STEPS
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        discrepancy = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "desk": _desk_context(request, discrepancy)}
        return super().change_view(request, object_id, form_url, extra_context)

    def desk_view(self, request, object_id, step: str):
        """One step of the desk; the service's refusal is shown as it words it."""
        discrepancy = get_object_or_404(Discrepancy, pk=unquote(object_id))
        if not self.has_view_permission(request, discrepancy):
            raise PermissionDenied
        # Approval is the supervisor's, checked by the service; every other step is the desk's.
        if step != "approve" and not request.user.has_perm(WORK):
            self.message_user(request, gettext("You may not work on discrepancies."), messages.ERROR)
            return HttpResponseRedirect(_url("discrepancy", "change", discrepancy.pk))
        try:
            done = getattr(self, f"_{step}")(request, discrepancy)
        except errors.ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(_url("discrepancy", "change", discrepancy.pk))
        self.message_user(request, f"{discrepancy.order_no}: {done}", messages.SUCCESS)
        if step in CLOSING_STEPS:
            return HttpResponseRedirect(_url("discrepancy", "changelist"))
        return HttpResponseRedirect(_url("discrepancy", "change", discrepancy.pk))

    def _investigate(self, request, discrepancy: Discrepancy) -> str:
        desk.discrepancy_investigate(discrepancy=discrepancy, actor=request.user)
        return gettext("you are investigating it.")

    def _requery(self, request, discrepancy: Discrepancy) -> str:
        status = desk.discrepancy_requery(discrepancy=discrepancy, actor=request.user)
        return gettext("re-queried at the channel; the %(kind)s is %(status)s.") % {
            "kind": discrepancy.object_kind,
            "status": status,
        }

    def _propose(self, request, discrepancy: Discrepancy) -> str:
        form = ProposalForm(request.POST)
        if not form.is_valid():
            raise errors.ValidationFailed(errors_text(form))
        desk.discrepancy_propose(
            discrepancy=discrepancy,
            actor=request.user,
            action=form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
            amount=form.cleaned_data["amount"],
        )
        return gettext("proposed; a finance supervisor other than you approves it.")

    def _approve(self, request, discrepancy: Discrepancy) -> str:
        discrepancy = desk.discrepancy_approve(discrepancy=discrepancy, actor=request.user)
        return gettext("approved and resolved: %(resolution)s") % {"resolution": discrepancy.resolution}

    def _withdraw(self, request, discrepancy: Discrepancy) -> str:
        desk.discrepancy_proposal_withdraw(discrepancy=discrepancy, actor=request.user)
        return gettext("the proposal is withdrawn.")

    def _ignore(self, request, discrepancy: Discrepancy) -> str:
        desk.discrepancy_ignore(discrepancy=discrepancy, actor=request.user, reason=_reason(request))
        return gettext("ignored.")

    def _resolve(self, request, discrepancy: Discrepancy) -> str:
        desk.discrepancy_resolve(discrepancy=discrepancy, actor=request.user, reason=_reason(request))
        return gettext("resolved.")

    @admin.display(description=_("order"), ordering="order_no")
    def order_link(self, discrepancy: Discrepancy) -> str:
        page = ORDER_PAGES.get(discrepancy.object_kind)
        order_pk = getattr(discrepancy, "order_pk", None)  # annotated by get_queryset
        if page is None or order_pk is None:
            return discrepancy.order_no
        return format_html('<a href="{}">{}</a>', reverse(page[2], args=[order_pk]), discrepancy.order_no)

    @admin.display(description=_("age"), ordering="created_at")
    def age(self, discrepancy: Discrepancy) -> str:
        """Since it was opened; a closed one's age stops when it was closed."""
        return elapsed((discrepancy.finished_at or timezone.now()) - discrepancy.created_at)

    @admin.display(description=_("proposal"))
    def proposal(self, discrepancy: Discrepancy) -> str:
        if not discrepancy.proposed_action:
            return "-"
        amount = f" {discrepancy.proposed_amount}" if discrepancy.proposed_amount is not None else ""
        author = discrepancy.proposed_by.get_username() if discrepancy.proposed_by else ""
        return gettext("%(action)s%(amount)s by %(author)s") % {
            "action": discrepancy.get_proposed_action_display(),
            "amount": amount,
            "author": author,
        }


def _reason(request) -> str:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        raise errors.ValidationFailed(errors_text(form))
    return form.cleaned_data["reason"]


def _desk_context(request, discrepancy: Discrepancy | None) -> dict:
    """What the discrepancy's page offers this staff member: only the steps they may take now."""
    if discrepancy is None:
        return {}
    user = request.user
    active = discrepancy.status in ACTIVE
    may_work = active and user.has_perm(WORK)
    waiting = bool(discrepancy.proposed_action)
    own = discrepancy.proposed_by_id == user.pk
    may_approve = active and waiting and user.has_perm(desk.APPROVE) and not own
    if not waiting or not active or may_approve:
        refusal = ""
    elif own:
        refusal = gettext("Another person must approve what you proposed (four eyes).")
    else:
        refusal = gettext("A finance supervisor approves this proposal.")
    return {
        "urls": {step: _url("discrepancy", step, discrepancy.pk) for step in DESK_STEPS},
        "can_investigate": may_work and discrepancy.status == Discrepancy.Status.OPEN,
        "can_requery": may_work and discrepancy.object_kind in ORDER_PAGES,
        "can_propose": may_work and not waiting,
        "can_approve": may_approve,
        "approve_refusal": refusal,
        "can_withdraw": may_work and waiting and (own or user.has_perm(desk.APPROVE)),
        "can_close": may_work and not waiting,
        "proposal_form": ProposalForm(auto_id="id_proposal_%s"),
        "reason_form": ReasonForm(),
        "transitions": DiscrepancyTransition.objects.filter(object_id=discrepancy.pk)
        .select_related("by")
        .order_by("timestamp", "id"),
    }


@admin.register(DiscrepancyTransition)
class DiscrepancyTransitionAdmin(TransitionLogAdmin):
    """Every step of the desk with its actor and reason, exportable for auditors."""

    resource_classes = [DiscrepancyTransitionResource]
    numbered = Discrepancy
    number_field = "order_no"

    def get_list_display(self, request):
        timestamp, *rest = super().get_list_display(request)
        return (timestamp, "discrepancy", *rest)

    @admin.display(description=_("discrepancy"), ordering="object_id")
    def discrepancy(self, transition: DiscrepancyTransition) -> str:
        return format_html(
            '<a href="{}">#{}</a>', _url("discrepancy", "change", transition.object_id), transition.object_id
        )


@admin.register(PoolItem)
class PoolItemAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The cross-day pool: one-sided items waiting for the next day's bill."""

    list_display = (
        "order_no",
        "object_kind",
        "channel",
        "kind",
        "side",
        "amount",
        "expected_status",
        "bill_date",
        "due_date",
        "status",
        "run",
        "settled_by",
        "created_at",
    )
    list_filter = ("status", "side", "kind", "channel", ("bill_date", DateRangeFilter))
    list_select_related = ("channel", "run__channel", "settled_by__channel")
    search_fields = ("order_no__exact",)
    search_help_text = _("Exact order number.")
    ordering = ("-bill_date", "-id")
    show_full_result_count = False


@admin.register(FeeBooking)
class FeeBookingAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The channels' fees of each bill as booked in the ledger."""

    list_display = ("bill_date", "channel", "kind", "amount", "file", "transfer", "created_at")
    list_filter = ("kind", "channel", ("bill_date", DateRangeFilter))
    list_select_related = ("channel", "file__channel", "transfer")
    ordering = ("-bill_date", "-id")
    show_full_result_count = False
