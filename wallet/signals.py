"""What the wallet tells the apps above it, without importing them (docs/ARCHITECTURE.md §2)."""

from django.dispatch import Signal

# A red packet was settled (every share grabbed, or its remainder returned to the sender),
# sent inside the transaction that settled it so a receiver's outbox row commits with it.
# Sender: the model class; keyword arguments: packet (the red packet), event
# ("red_packet.finished" or "red_packet.expired").
red_packet_settled = Signal()
