"""What a client may tell its user about a transfer between users (docs/WALLET.md, "Status codes")."""

from django.utils.translation import gettext_lazy as _

from wallet.models import PeerTransfer
from wallet.reasons import StatusCatalogue

_BY_STATUS = {
    PeerTransfer.Status.UNDER_REVIEW: "under_review",
    PeerTransfer.Status.POSTED: "completed",
    PeerTransfer.Status.REJECTED: "rejected",
}


def transfer_status_code(transfer: PeerTransfer) -> str:
    return _BY_STATUS[PeerTransfer.Status(transfer.status)]


TRANSFER_STATUS = StatusCatalogue(
    code_of=transfer_status_code,
    messages={
        "under_review": _("Held for review: the amount is reserved in the sender's wallet until staff decide."),
        "completed": _("The money has moved to the recipient."),
        "rejected": _("Rejected by review; the amount is back in the sender's wallet."),
    },
)
