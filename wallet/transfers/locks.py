"""Locks of user-to-user transfers (docs/WALLET.md).

Lock order: the sender's transfer lock (advisory), then a receive code's row, then the ledger
(holds, then accounts in id order, taken by the posting functions). A review decision locks the
transfer row before the ledger. The sender's lock is advisory, not the wallet row: two users
paying each other at once would otherwise each hold one wallet row and wait for the other's.
"""

from django.db import connection

from wallet.models import PeerTransfer, ReceiveCode

# First key of pg_advisory_xact_lock(int, int): the namespace of "one user's outgoing transfers".
TRANSFER_SEND_LOCK = 0x5032  # "P2"


def sender_lock(user_id: int) -> None:
    """Serialise one sender's transfers until commit, so each counts the ones before it against
    the daily limits; other senders and other ledger work are not held up."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [TRANSFER_SEND_LOCK, user_id])


def receive_code_lock(pk: int) -> ReceiveCode | None:
    return ReceiveCode.objects.select_for_update(of=("self",)).filter(pk=pk).first()


def peer_transfer_lock(pk: int) -> PeerTransfer:
    return PeerTransfer.objects.select_for_update(of=("self",)).get(pk=pk)


def peer_transfer_next_id() -> int:
    """An id for the transfer about to be written, so its ledger rows can reference it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('wallet_peertransfer', 'id'))")
        return cursor.fetchone()[0]
