"""The record of every export: who exported what, with which filters, in which format, when, how
many rows, and the file kept for download until it expires (docs/OPERATIONS.md, "Exports")."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ExportJobStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportJob(models.Model):
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, verbose_name=_("model"))
    # Dotted path of the Resource (the columns); the worker finds it among the model admin's.
    resource = models.CharField(_("resource"), max_length=200)
    fields = models.JSONField(_("columns"), default=list, blank=True)
    # The changelist's query string: its filters, search and ordering, replayed by the worker.
    query_string = models.TextField(_("filters"), blank=True)
    file_format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    language = models.CharField(max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=ExportJobStatus.choices, default=ExportJobStatus.PENDING
    )
    rows_total = models.PositiveBigIntegerField(_("rows"), null=True, blank=True)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    # Name of the file under settings.EXPORT_ROOT: random, never taken from user input.
    stored_name = models.CharField(max_length=100, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        indexes = [
            models.Index(fields=["requested_by", "-created_at"], name="export_job_by_requester"),
            models.Index(fields=["status", "expires_at"], name="export_job_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type.model} {self.file_format} #{self.pk}"

    @property
    def progress(self) -> int:
        """Percent of the rows written; 100 once done, whatever the count was."""
        if self.status in (ExportJobStatus.DONE, ExportJobStatus.EXPIRED):
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_written * 100 // self.rows_total)

    @property
    def download_name(self) -> str:
        """A safe file name for the browser: model, local time of the request, extension."""
        stamp = timezone.localtime(self.created_at).strftime("%Y%m%d-%H%M%S")
        return f"{self.content_type.model}-{stamp}-{self.pk}.{self.file_format}"
