"""What the wallet tells the apps above it, without importing them (docs/ARCHITECTURE.md §2)."""

from django.dispatch import Signal

# A red packet was settled: every share grabbed ("red_packet.finished"), or its remainder
# returned to the sender ("red_packet.expired"). Sent inside the transaction that settled it,
# so a receiver's outbox row commits with it or not at all. Sender: the model class; keyword
# arguments: sender_user_id (int, who sent the packet), event, data (the JSON body's fields:
# strings, amounts as "12.34", times ISO 8601).
red_packet_settled = Signal()
