"""What payments tells the apps that build on it, without importing them (docs/ARCHITECTURE.md §2):
reconciliation checks every order the moment it is final (docs/RECONCILIATION.md, "Near-real-time
check")."""

from django.db import transaction
from django.dispatch import Signal

# A payment order, refund or withdrawal reached a final state, and that state is committed.
# Sender: the model class; keyword arguments: kind ("payment", "refund" or "payout"), pk, order_no.
order_finished = Signal()


def order_finished_on_commit(sender: type, *, kind: str, pk: int, order_no: str) -> None:
    """Send ``order_finished`` once the current transaction commits. Robust: a listener that fails
    never turns the committed order into an error."""
    transaction.on_commit(lambda: order_finished.send(sender=sender, kind=kind, pk=pk, order_no=order_no), robust=True)


# Something a merchant is told about settled. Sent inside the transaction that settled it, so a
# receiver's outbox row commits with it or not at all (docs/MERCHANTS.md). Sender: the model
# class; keyword arguments: merchant_id (int), event ("payment.succeeded", "payment.closed",
# "refund.succeeded", "refund.failed"), notify_url (the order's override, or "" for the
# merchant's own), data (the JSON body's fields: strings, amounts as "12.34", times ISO 8601).
merchant_event = Signal()
