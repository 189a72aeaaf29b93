"""Row and advisory locks of red packets (docs/WALLET.md).

Lock order: the rebuild's advisory lock, then the packet row, then share rows in id order,
then ledger rows (which the wallet's posting functions lock in id order). A grab locks no
packet row: only the share it claims and the grabber's wallet.
"""

from django.db import connection

from wallet.redpackets.models import RedPacket, RedPacketShare

# First key of pg_advisory_xact_lock(int, int): the namespace of "rebuild one packet's Redis list".
REBUILD_LOCK = 0x5250  # "RP"


def packet_lock(pk: int) -> RedPacket:
    """The packet, locked until the end of the transaction."""
    return RedPacket.objects.select_for_update(of=("self",)).get(pk=pk)


def share_lock(pk: int) -> RedPacketShare:
    return RedPacketShare.objects.select_for_update(of=("self",)).select_related("packet").get(pk=pk)


def packet_rebuild_lock(packet_id: int) -> None:
    """Serialise the rebuilds of one packet's Redis list until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REBUILD_LOCK, packet_id])
