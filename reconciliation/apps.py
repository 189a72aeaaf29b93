from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = _("Reconciliation")

    def ready(self) -> None:
        """Check each order the moment payments says it is final (docs/RECONCILIATION.md,
        "Near-real-time check"); payments sends the signal without knowing who listens."""
        from payments.signals import order_finished
        from reconciliation.realtime import order_finished_receive

        order_finished.connect(order_finished_receive, dispatch_uid="reconciliation.order_check")
