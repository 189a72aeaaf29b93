"""Read-only admin of the ledger (DESIGN §4, §10), with exports for auditors.

Ledger rows change only through wallet.services, so nobody, superusers included, adds, changes
or deletes them here; staff with the view permission may look. Exports need
``wallet.export_<model>`` and run on the changelist's query string, so a file holds exactly the
rows of the active filters.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from wallet import selectors
from wallet.dates import local_midnight
from wallet.models import Account, Entry, Hold, Transfer
from wallet.resources import EntryResource, TransferResource

INPUT_FILTER_TEMPLATE = "admin/wallet/input_filter.html"
DERIVED = "derived"


def _input_choice(changelist, *, form: forms.Form, parameters: list[str], selected: bool) -> dict:
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


class AccountCodeForm(forms.Form):
    account_code = forms.CharField(label="Code", required=False)


class AccountCodeFilter(admin.SimpleListFilter):
    """An exact account code typed in a box: a list of every account would not fit the sidebar."""

    title = "account code"
    parameter_name = "account_code"
    template = INPUT_FILTER_TEMPLATE

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        code = self.value()
        return queryset.filter(self.condition(code)) if code else queryset

    def condition(self, code: str) -> Q | Exists:
        return Q(account__code=code)

    def choices(self, changelist):
        form = AccountCodeForm(data={self.parameter_name: self.value() or ""})
        yield _input_choice(changelist, form=form, parameters=[self.parameter_name], selected=bool(self.value()))


class TransferAccountCodeFilter(AccountCodeFilter):
    def condition(self, code: str) -> Q | Exists:
        return Exists(Entry.objects.filter(transfer=OuterRef("pk"), account__code=code))


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
        self.form.fields[self.parameter_from] = forms.DateField(label="From", required=False, widget=date_input)
        self.form.fields[self.parameter_to] = forms.DateField(label="To", required=False, widget=date_input)

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
        yield _input_choice(
            changelist, form=self.form, parameters=self.expected_parameters(), selected=bool(self.used_parameters)
        )


class ReadOnlyMixin:
    """The ledger is append-only and written by wallet.services alone (DESIGN §4)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TransitionLogAdmin(ExportMixin, ReadOnlyMixin, admin.ModelAdmin):
    """A django-fsm-log proxy of one model's transitions: who, when, from, to and why, with the
    number of the object they moved (``numbered.number_field``), exportable for auditors."""

    export_formats = [CSV, XLSX]
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

    @admin.display(description="number", ordering="order_no")
    def order_no(self, transition) -> str:
        return transition.order_no  # annotated by get_queryset


class LedgerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Right-aligns the money columns.
    change_list_template = "admin/wallet/ledger_change_list.html"


class LedgerExportMixin(ExportMixin):
    """Export of the filtered changelist, for holders of ``wallet.export_<model>`` only."""

    export_formats = [CSV, XLSX]


@admin.register(Account)
class AccountAdmin(LedgerAdmin):
    list_display = (
        "code",
        "kind",
        "owner",
        "currency",
        "balance_column",
        "held",
        "available_column",
        "status",
        "is_hot",
        "created_at",
    )
    list_filter = ("kind", "status", "currency", "is_hot", "created_at")
    search_fields = ("code__exact", "owner__username__exact")
    search_help_text = "Exact account code or owner username."
    list_select_related = ("owner",)
    fields = (
        "code",
        "owner",
        "kind",
        "currency",
        "status",
        "current_balance",
        "held",
        "current_available",
        "allow_negative",
        "is_hot",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("current_balance", "current_available", "created_at", "updated_at")

    # Hot accounts keep no balance on their row (it is the sum of their entries): the list
    # says so rather than sum every hot account's entries on each page; the account page sums.

    @admin.display(description="balance", ordering="balance")
    def balance_column(self, account: Account):
        return DERIVED if account.is_hot else account.balance

    @admin.display(description="available")
    def available_column(self, account: Account):
        return DERIVED if account.is_hot else account.available

    @admin.display(description="balance")
    def current_balance(self, account: Account):
        return selectors.account_balance(account=account)

    @admin.display(description="available")
    def current_available(self, account: Account):
        return selectors.account_balance(account=account) - account.held


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = Entry
    fields = ("account", "amount", "balance_after", "created_at")
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


@admin.register(Transfer)
class TransferAdmin(LedgerExportMixin, LedgerAdmin):
    resource_classes = [TransferResource]
    list_display = ("id", "created_at", "kind", "total", "reference", "idempotency_key", "memo")
    list_filter = ("kind", TransferAccountCodeFilter, ("created_at", DateRangeFilter))
    search_fields = ("idempotency_key__exact", "reference__exact")
    search_help_text = "Exact idempotency key or reference."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("total",)
    inlines = [EntryInline]
    # The ledger grows without bound; skip the extra unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def get_queryset(self, request):
        credits = (
            Entry.objects.filter(transfer=OuterRef("pk"), amount__gt=0)
            .values("transfer")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return super().get_queryset(request).annotate(amount=Subquery(credits))

    @admin.display(description="amount", ordering="amount")
    def total(self, transfer: Transfer):
        return transfer.amount  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(Entry)
class EntryAdmin(LedgerExportMixin, LedgerAdmin):
    resource_classes = [EntryResource]
    list_display = ("id", "created_at", "account", "transfer", "amount", "balance_after", "transfer__reference")
    list_filter = (AccountCodeFilter, ("created_at", DateRangeFilter))
    search_fields = ("transfer__idempotency_key__exact", "transfer__reference__exact")
    search_help_text = "Exact idempotency key or reference of the transfer."
    list_select_related = ("account", "transfer")
    ordering = ("-created_at", "-id")
    show_full_result_count = False


@admin.register(Hold)
class HoldAdmin(LedgerAdmin):
    list_display = ("id", "created_at", "account", "amount", "status", "reference", "capture_transfer", "resolved_at")
    list_filter = ("status", AccountCodeFilter, "created_at")
    search_fields = ("idempotency_key__exact", "reference__exact", "account__owner__username__exact")
    search_help_text = "Exact idempotency key, reference or owner username."
    list_select_related = ("account", "capture_transfer")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
