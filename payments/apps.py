from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        """Tell merchants about what settles, in the settling transaction (docs/WEBHOOKS.md);
        the senders do not know who listens."""
        from payments.signals import merchant_event
        from payments.webhooks.receivers import merchant_event_receive, red_packet_settled_receive
        from wallet.signals import red_packet_settled

        merchant_event.connect(merchant_event_receive, dispatch_uid="payments.webhooks.merchant_event")
        red_packet_settled.connect(red_packet_settled_receive, dispatch_uid="payments.webhooks.red_packet_settled")
