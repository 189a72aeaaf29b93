"""Filters of the withdrawal list: the API's query filters (status and a range of local dates)
and the admin queue's list filters (status opening on pending, channels that pay out)."""

from datetime import date, timedelta

import django_filters
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils.translation import gettext_lazy as _

from payments.withdrawals import selectors
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet.dates import local_midnight

ISO_DATE = "%Y-%m-%d"


class WithdrawalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WithdrawalStatus.choices, help_text="One or more statuses.")
    created_from = django_filters.DateFilter(
        method="filter_created_from", input_formats=[ISO_DATE], help_text="First local date (YYYY-MM-DD), inclusive."
    )
    created_to = django_filters.DateFilter(
        method="filter_created_to", input_formats=[ISO_DATE], help_text="Last local date (YYYY-MM-DD), inclusive."
    )

    class Meta:
        model = Withdrawal
        fields = ["status"]

    def filter_created_from(self, queryset, name, value: date):
        return queryset.filter(created_at__gte=local_midnight(value))

    def filter_created_to(self, queryset, name, value: date):
        if value == date.max:
            return queryset  # through the last day there is: no bound (the day after overflows)
        return queryset.filter(created_at__lt=local_midnight(value + timedelta(days=1)))


class QueueStatusFilter(admin.SimpleListFilter):
    """Status, where no choice means ``pending``: the list opens as the approval queue, oldest
    first, and "All" is a choice of its own (``?status=all``)."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*WithdrawalStatus.choices, (self.ALL, _("All"))]

    def value(self):
        return super().value() or WithdrawalStatus.PENDING

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset
        if self.value() not in WithdrawalStatus.values:
            raise IncorrectLookupParameters(f"Unknown status {self.value()!r}.")
        return queryset.filter(status=self.value())

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class PayoutChannelFilter(admin.RelatedFieldListFilter):
    """Only the channels that pay out, by name: a withdrawal never goes through a channel that
    only collects payments, so offering one would only ever list nothing."""

    def field_choices(self, field, request, model_admin):
        return list(selectors.payout_channels().values_list("pk", "name"))
