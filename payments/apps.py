from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        """Tell merchants about what settles, in the settling transaction (docs/WEBHOOKS.md);
        the senders do not know who listens."""
        from payments.orders.statements import payment_statement_lines, refund_statement_lines
        from payments.signals import merchant_event
        from payments.webhooks.receivers import merchant_event_receive, red_packet_settled_receive
        from payments.withdrawals.statements import withdrawal_statement_lines
        from wallet.signals import red_packet_settled
        from wallet.statements import statement_describer_register

        merchant_event.connect(merchant_event_receive, dispatch_uid="payments.webhooks.merchant_event")
        # The wallet's statement names what these apps' transfers were (wallet.statements).
        statement_describer_register(kinds=["withdrawal", "withdrawal_reversal"], describer=withdrawal_statement_lines)
        statement_describer_register(
            kinds=["recharge", "recharge_reversal", "order_payment", "order_payment_reversal"],
            describer=payment_statement_lines,
        )
        statement_describer_register(kinds=["refund"], describer=refund_statement_lines)
        red_packet_settled.connect(red_packet_settled_receive, dispatch_uid="payments.webhooks.red_packet_settled")
