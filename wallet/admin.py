"""Read-only admin of the ledger (docs/ARCHITECTURE.md §4, §10), with exports for auditors.

Ledger rows change only through wallet.services, so nobody, superusers included, adds, changes
or deletes them here; staff with the view permission may look. Exports need
``wallet.export_<model>`` and run on the changelist's query string, so a file holds exactly the
rows of the active filters.
"""

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from wallet import selectors
from wallet.adminkit import INPUT_FILTER_TEMPLATE, DateRangeFilter, ReadOnlyMixin, StreamingExportMixin, input_choice
from wallet.models import Account, Entry, Hold, Transfer
from wallet.resources import EntryResource, TransferResource

DERIVED = _("derived")


class AccountCodeForm(forms.Form):
    account_code = forms.CharField(label=_("Code"), required=False)


class AccountCodeFilter(admin.SimpleListFilter):
    """An exact account code typed in a box: a list of every account would not fit the sidebar."""

    title = _("account code")
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
        yield input_choice(changelist, form=form, parameters=[self.parameter_name], selected=bool(self.value()))


class TransferAccountCodeFilter(AccountCodeFilter):
    def condition(self, code: str) -> Q | Exists:
        return Exists(Entry.objects.filter(transfer=OuterRef("pk"), account__code=code))


class LedgerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Right-aligns the money columns.
    change_list_template = "admin/wallet/ledger_change_list.html"


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
    search_help_text = _("Exact account code or owner username.")
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

    @admin.display(description=_("balance"), ordering="balance")
    def balance_column(self, account: Account):
        return DERIVED if account.is_hot else account.balance

    @admin.display(description=_("available"))
    def available_column(self, account: Account):
        return DERIVED if account.is_hot else account.available

    @admin.display(description=_("balance"))
    def current_balance(self, account: Account):
        return selectors.account_balance(account=account)

    @admin.display(description=_("available"))
    def current_available(self, account: Account):
        return selectors.account_balance(account=account) - account.held


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = Entry
    fields = ("account", "amount", "balance_after", "created_at")
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")


@admin.register(Transfer)
class TransferAdmin(StreamingExportMixin, LedgerAdmin):
    resource_classes = [TransferResource]
    list_display = ("id", "created_at", "kind", "total", "reference", "idempotency_key", "memo")
    list_filter = ("kind", TransferAccountCodeFilter, ("created_at", DateRangeFilter))
    search_fields = ("idempotency_key__exact", "reference__exact")
    search_help_text = _("Exact idempotency key or reference.")
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

    @admin.display(description=_("amount"), ordering="amount")
    def total(self, transfer: Transfer):
        return transfer.amount  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(Entry)
class EntryAdmin(StreamingExportMixin, LedgerAdmin):
    resource_classes = [EntryResource]
    list_display = ("id", "created_at", "account", "transfer", "amount", "balance_after", "transfer__reference")
    list_filter = (AccountCodeFilter, ("created_at", DateRangeFilter))
    search_fields = ("transfer__idempotency_key__exact", "transfer__reference__exact")
    search_help_text = _("Exact idempotency key or reference of the transfer.")
    list_select_related = ("account", "transfer")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("account__owner", "transfer")


@admin.register(Hold)
class HoldAdmin(LedgerAdmin):
    list_display = ("id", "created_at", "account", "amount", "status", "reference", "capture_transfer", "resolved_at")
    list_filter = ("status", AccountCodeFilter, "created_at")
    search_fields = ("idempotency_key__exact", "reference__exact", "account__owner__username__exact")
    search_help_text = _("Exact idempotency key, reference or owner username.")
    list_select_related = ("account", "capture_transfer")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")


# Django's admin autodiscovery imports an app's admin module only: the wallet's capabilities
# (docs/WALLET.md) register theirs on import.
from wallet.campaigns import admin as campaigns_admin  # noqa: E402, F401
from wallet.exports import admin as exports_admin  # noqa: E402, F401
from wallet.redpackets import admin as redpackets_admin  # noqa: E402, F401
from wallet.transfers import admin as transfers_admin  # noqa: E402, F401
