"""What a client may tell its user about a red packet (docs/WALLET.md, "Status codes")."""

from django.utils.translation import gettext_lazy as _

from wallet.reasons import StatusCatalogue
from wallet.redpackets.models import RedPacket, RedPacketStatus

_BY_STATUS = {
    RedPacketStatus.OPEN: "open",
    RedPacketStatus.FINISHED: "all_grabbed",
    RedPacketStatus.EXPIRED: "expired",
}


def red_packet_status_code(packet: RedPacket) -> str:
    return _BY_STATUS[RedPacketStatus(packet.status)]


RED_PACKET_STATUS = StatusCatalogue(
    code_of=red_packet_status_code,
    messages={
        "open": _("Open: shares can be grabbed until it expires."),
        "all_grabbed": _("Every share has been grabbed."),
        "expired": _("Expired; what was not grabbed went back to the sender."),
    },
)
