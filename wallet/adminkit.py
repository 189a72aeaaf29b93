"""Admin pieces every app's admin is built with: read-only money, exports of the filtered
changelist (wallet.exports), the transition logs of the state machines (django-fsm-log) with
exports, and a date range filter typed in two boxes."""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from wallet.dates import local_midnight
from wallet.exports.downloads import export_download
from wallet.exports.services import export_is_large, export_job_create, export_job_queue, export_job_run

INPUT_FILTER_TEMPLATE = "admin/wallet/input_filter.html"


def input_choice(changelist, *, form: forms.Form, parameters: list[str], selected: bool) -> dict:
    """What input_filter.html renders: a GET form that keeps the changelist's other parameters."""
    hidden = [
        (name, value) for name, values in changelist.filter_params.items() if name not in parameters for value in values
    ]
    return {
        "form": form,
        "hidden": hidden,
        "selected": selected,
        "clear_query_string": changelist.get_query_string(remove=parameters),
    }


class DateRangeFilter(admin.FieldListFilter):
    """Inclusive range of local dates on a datetime field: ``?created_at_from=…&created_at_to=…``."""

    template = INPUT_FILTER_TEMPLATE

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.parameter_from = f"{field_path}_from"
        self.parameter_to = f"{field_path}_to"
        data = {name: params[name][-1] for name in self.expected_parameters() if name in params}
        super().__init__(field, request, params, model, model_admin, field_path)
        date_input = forms.DateInput(attrs={"type": "date"})
        self.form = forms.Form(data=data)
        self.form.fields[self.parameter_from] = forms.DateField(label=_("From"), required=False, widget=date_input)
        self.form.fields[self.parameter_to] = forms.DateField(label=_("To"), required=False, widget=date_input)

    def expected_parameters(self):
        return [self.parameter_from, self.parameter_to]

    def queryset(self, request, queryset):
        if not self.form.is_valid():
            raise IncorrectLookupParameters(self.form.errors)
        start, end = self.form.cleaned_data[self.parameter_from], self.form.cleaned_data[self.parameter_to]
        if start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": local_midnight(start)})
        if end:
            queryset = queryset.filter(**{f"{self.field_path}__lt": local_midnight(end + timedelta(days=1))})
        return queryset

    def choices(self, changelist):
        yield input_choice(
            changelist, form=self.form, parameters=self.expected_parameters(), selected=bool(self.used_parameters)
        )


class ReadOnlyMixin:
    """Money rows are written by services alone: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StreamingExportMixin(ExportMixin):
    """django-import-export's Export button and form (format, columns) on the changelist's
    filtered, searched and ordered rows, written by wallet.exports instead of tablib: typed XLSX
    cells and UTF-8 CSV, streamed row by row, each export recorded as an ExportJob. More rows
    than EXPORT_ASYNC_THRESHOLD go to the worker, and the user to the export jobs page."""

    export_formats = [CSV, XLSX]

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        resource_class = self.choose_export_resource_class(export_form, request)
        job = export_job_create(
            actor=request.user,
            model=self.model,
            resource_class=resource_class,
            fields=self.get_export_resource_fields_from_form(export_form) or [],
            query_string=request.GET.urlencode(),
            file_format=file_format.get_extension(),
        )
        if export_is_large(queryset):
            export_job_queue(job=job)
            self.message_user(request, gettext("The export is large: it is being written in the background."))
            return redirect("admin:wallet_exportjob_changelist")
        export_job_run(job=job, resource=resource_class(**self.get_export_resource_kwargs(request)), queryset=queryset)
        return export_download(job)


class TransitionLogAdmin(StreamingExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    """A django-fsm-log proxy of one model's transitions: who, when, from, to and why, with the
    number of the object they moved (``numbered.number_field``), exportable for auditors."""

    list_display = ("timestamp", "order_no", "transition", "source_state", "state", "by", "description")
    list_filter = ("transition", "state", ("timestamp", DateRangeFilter))
    list_select_related = ("by",)
    ordering = ("-timestamp", "-id")
    show_full_result_count = False
    numbered: type[models.Model]
    number_field: str

    def get_queryset(self, request):
        number = self.numbered._default_manager.filter(pk=OuterRef("object_id")).values(self.number_field)[:1]
        return super().get_queryset(request).annotate(order_no=Subquery(number))

    @admin.display(description=_("number"), ordering="order_no")
    def order_no(self, transition) -> str:
        return transition.order_no  # annotated by get_queryset
