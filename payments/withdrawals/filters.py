"""Query filters of the withdrawal list: status and a range of local dates."""

from datetime import date, timedelta

import django_filters

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
