"""Reads of exports: whose jobs a user sees, and what a queued job exports."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, QueryDict
from import_export.admin import ExportMixin
from import_export.resources import ModelResource

from wallet.exports.models import ExportJob
from wallet.exports.services import resource_path


def export_jobs_visible_to(user) -> models.QuerySet[ExportJob]:
    """A superuser sees every export; anyone else only their own."""
    jobs = ExportJob.objects.select_related("requested_by", "content_type")
    return jobs if user.is_superuser else jobs.filter(requested_by=user)


def export_job_source(job: ExportJob) -> tuple[ModelResource, models.QuerySet]:
    """The Resource and the rows of a job, replayed through the model's admin changelist as its
    requester saw it: the same filters, search, ordering and permissions, checked again now."""
    model = job.content_type.model_class()
    model_admin = admin.site.get_model_admin(model) if model else None
    if not isinstance(model_admin, ExportMixin):
        raise PermissionDenied(f"{job.content_type} has no export in the admin")
    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(job.query_string)
    request.user = job.requested_by
    if not job.requested_by.is_active or not model_admin.has_export_permission(request):
        raise PermissionDenied(f"{job.requested_by} may no longer export {job.content_type.model}")
    resource_class = next(
        resource
        for resource in model_admin.get_export_resource_classes(request)
        if resource_path(resource) == job.resource
    )
    resource = resource_class(**model_admin.get_export_resource_kwargs(request))
    return resource, model_admin.get_export_queryset(request)
