"""Every write of an export: start one (at once or on the worker), write its file, purge old ones.

The caller passes the Resource and the queryset of its filtered changelist; nothing here knows
any app's models. Rows are read with ``.iterator(chunk_size=...)`` and written one by one, so
memory stays flat whatever the row count (docs/PERFORMANCE.md, "Exports").
"""

import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone, translation
from import_export.resources import ModelResource

from wallet.exports.models import ExportFormat, ExportJob, ExportJobStatus
from wallet.exports.writers import CsvWriter, SheetWriter, XlsxWriter
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)

EXPORT_TASK = "wallet.export_job_process"


def export_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_ROOT) / job.stored_name


def resource_path(resource_class: type[ModelResource]) -> str:
    return f"{resource_class.__module__}.{resource_class.__qualname__}"


def export_is_large(queryset: models.QuerySet) -> bool:
    """More rows than EXPORT_ASYNC_THRESHOLD, counted no further than one past it."""
    threshold = settings.EXPORT_ASYNC_THRESHOLD
    return queryset.order_by()[: threshold + 1].count() > threshold


@transaction.atomic
def export_job_create(
    *,
    actor,
    model: type[models.Model],
    resource_class: type[ModelResource],
    fields: list[str],
    query_string: str,
    file_format: str,
) -> ExportJob:
    """Record an export as asked: the columns, the changelist's filters and the format."""
    return ExportJob.objects.create(
        requested_by=actor,
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
        resource=resource_path(resource_class),
        fields=fields,
        query_string=query_string,
        file_format=ExportFormat(file_format),
        language=translation.get_language() or settings.LANGUAGE_CODE,
        stored_name=f"{secrets.token_hex(16)}.{file_format}",
    )


def export_job_queue(*, job: ExportJob) -> None:
    """Hand a recorded export to the worker once its row is committed."""
    transaction.on_commit(lambda: task_enqueue(EXPORT_TASK, job.pk))


def export_job_run(*, job: ExportJob, resource: ModelResource, queryset: models.QuerySet) -> ExportJob:
    """Write the job's file row by row, keeping its progress on the row for the admin to show.

    A failure marks the job failed with the error and leaves no partial file behind."""
    now = timezone.now()
    job.status, job.started_at, job.rows_total = ExportJobStatus.RUNNING, now, queryset.count()
    job.save(update_fields=["status", "started_at", "rows_total"])
    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with translation.override(job.language):
            written = _write(job=job, resource=resource, queryset=queryset, path=path)
    except Exception as error:
        path.unlink(missing_ok=True)
        export_job_fail(job=job, error=repr(error))
        raise
    finished = timezone.now()
    job.status, job.rows_written, job.finished_at = ExportJobStatus.DONE, written, finished
    job.expires_at = finished + timedelta(hours=settings.EXPORT_RETENTION_HOURS)
    job.save(update_fields=["status", "rows_written", "finished_at", "expires_at"])
    return job


def export_job_fail(*, job: ExportJob, error: str) -> ExportJob:
    job.status, job.error, job.finished_at = ExportJobStatus.FAILED, error[:2000], timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job


def export_jobs_purge(*, now: datetime | None = None) -> int:
    """Delete the files of expired exports; their records stay. The number of files deleted."""
    expired = ExportJob.objects.filter(status=ExportJobStatus.DONE, expires_at__lte=now or timezone.now())
    purged = 0
    for job in expired.iterator():
        export_path(job).unlink(missing_ok=True)
        job.status = ExportJobStatus.EXPIRED
        job.save(update_fields=["status"])
        purged += 1
    return purged


def _write(*, job: ExportJob, resource: ModelResource, queryset: models.QuerySet, path: Path) -> int:
    export_fields = resource.get_export_fields(job.fields or None)
    headers = resource.get_export_headers(job.fields or None)
    typed = job.file_format == ExportFormat.XLSX
    writer: SheetWriter
    if typed:
        title = str(queryset.model._meta.verbose_name_plural).capitalize()
        formats = [getattr(field.widget, "number_format", None) for field in export_fields]
        writer = XlsxWriter(path, headers=headers, title=title, number_formats=formats)
    else:
        writer = CsvWriter(path, headers=headers)
    written = 0
    chunk = settings.EXPORT_CHUNK_SIZE
    for instance in queryset.iterator(chunk_size=chunk):
        writer.write_row([resource.export_field(field, instance, typed=typed) for field in export_fields])
        written += 1
        if written % chunk == 0:
            ExportJob.objects.filter(pk=job.pk).update(rows_written=written)
    writer.close()
    return written
