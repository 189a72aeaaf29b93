"""Celery tasks of exports: thin wrappers around the services."""

import logging

from celery import shared_task
from django.core.exceptions import PermissionDenied

from wallet.exports import selectors, services
from wallet.exports.models import ExportJob, ExportJobStatus

logger = logging.getLogger(__name__)


@shared_task(name="wallet.export_job_process")
def export_job_process(job_id: int) -> int:
    """Write a large export's file; a redelivery after a worker died writes it again from the
    start. Not retried: a failure is shown on the job, and the
    auditor exports again (a retry would only repeat the same error on the same rows)."""
    job = ExportJob.objects.select_related("requested_by", "content_type").get(pk=job_id)
    if job.status not in (ExportJobStatus.PENDING, ExportJobStatus.RUNNING):
        return job.rows_written  # a duplicate delivery of a finished job
    try:
        resource, queryset = selectors.export_job_source(job)
    except PermissionDenied as refused:
        services.export_job_fail(job=job, error=str(refused))
        return 0
    return services.export_job_run(job=job, resource=resource, queryset=queryset).rows_written


@shared_task(name="wallet.export_jobs_purge")
def export_jobs_purge() -> int:
    purged = services.export_jobs_purge()
    logger.info("deleted %d expired export files", purged)
    return purged
