"""The exports page of the admin: one's own export jobs (a superuser's: everyone's), their
progress while the worker writes them, refreshed every few seconds, and the download link of a
finished file until it expires. Records are written by the services only."""

from urllib.parse import parse_qsl

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from wallet.exports.downloads import export_download
from wallet.exports.models import ExportJob, ExportJobStatus
from wallet.exports.selectors import export_jobs_visible_to

REFRESH_SECONDS = 2


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    change_list_template = "admin/wallet/exportjob/change_list.html"

    class Media:
        css = {"all": ["wallet/admin/export-jobs.css"]}

    list_display = (
        "created_at",
        "exported_model",
        "file_format",
        "status",
        "progress_bar",
        "download_link",
        "rows_total",
        "requested_by",
        "filters",
    )
    list_filter = ("status", "file_format")
    ordering = ("-created_at", "-id")
    fields = (
        "requested_by",
        "exported_model",
        "resource",
        "fields",
        "filters",
        "file_format",
        "status",
        "progress_bar",
        "rows_total",
        "rows_written",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
        "download_link",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExportJob]:
        return export_jobs_visible_to(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        download = path(
            "<int:job_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="wallet_exportjob_download",
        )
        return [download, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        unfinished = self.get_queryset(request).filter(status__in=[ExportJobStatus.PENDING, ExportJobStatus.RUNNING])
        extra_context = (extra_context or {}) | {"refresh_seconds": REFRESH_SECONDS if unfinished.exists() else None}
        return super().changelist_view(request, extra_context)

    def download_view(self, request: HttpRequest, job_id: int) -> FileResponse:
        """Only the requester (or a superuser) downloads: anyone else's job is not found."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ready = self.get_queryset(request).filter(status=ExportJobStatus.DONE, expires_at__gt=timezone.now())
        return export_download(get_object_or_404(ready, pk=job_id))

    @admin.display(description=_("model"))
    def exported_model(self, job: ExportJob) -> str:
        model = job.content_type.model_class()
        return str(model._meta.verbose_name_plural).capitalize() if model else job.content_type.name

    @admin.display(description=_("filters"))
    def filters(self, job: ExportJob) -> str:
        kept = parse_qsl(job.query_string)
        return format_html_join("", "<div>{}={}</div>", kept) if kept else "-"

    @admin.display(description=_("progress"))
    def progress_bar(self, job: ExportJob) -> str:
        return format_html(
            '<progress class="export-progress" value="{}" max="100"></progress> <span>{}%</span>',
            job.progress,
            job.progress,
        )

    @admin.display(description=_("file"))
    def download_link(self, job: ExportJob) -> str:
        if job.status != ExportJobStatus.DONE:
            return "-"
        return format_html(
            '<a class="export-download" href="{}">{}</a>',
            reverse("admin:wallet_exportjob_download", args=[job.pk]),
            _("Download"),
        )
