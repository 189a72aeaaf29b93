"""What a client may tell its user about a withdrawal (docs/WITHDRAWALS.md, "Status codes")."""

from django.utils.translation import gettext_lazy as _

from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet.reasons import StatusCatalogue

_BY_STATUS = {
    WithdrawalStatus.APPROVED: "awaiting_payout",
    WithdrawalStatus.PROCESSING: "processing",
    WithdrawalStatus.SUCCESS: "paid",
    WithdrawalStatus.FAILED: "payout_failed",
    WithdrawalStatus.REJECTED: "rejected",
    WithdrawalStatus.CANCELLED: "cancelled",
    WithdrawalStatus.REFUNDED: "returned",
}


def withdrawal_status_code(withdrawal: Withdrawal) -> str:
    """A pending four-eyes withdrawal with one approval waits for the second; the approvals are
    read through ``approvals.all()`` so that a list prefetches them in one query."""
    if withdrawal.status != WithdrawalStatus.PENDING:
        return _BY_STATUS[WithdrawalStatus(withdrawal.status)]
    if withdrawal.approvals_required > 1 and len(withdrawal.approvals.all()) > 0:
        return "awaiting_second_approval"
    return "under_review"


WITHDRAWAL_STATUS = StatusCatalogue(
    code_of=withdrawal_status_code,
    messages={
        "under_review": _("Under review by finance; the amount is reserved in your wallet."),
        "awaiting_second_approval": _("Approved once; waiting for a second approval."),
        "awaiting_payout": _("Approved; waiting to be sent to the payout channel."),
        "processing": _("Sent to the payout channel; waiting for it to confirm the payment."),
        "paid": _("Paid out to your payout account."),
        "payout_failed": _("The payout channel could not pay it; the amount is back in your wallet."),
        "rejected": _("Rejected by review; the amount is back in your wallet."),
        "cancelled": _("Cancelled; the amount is back in your wallet."),
        "returned": _("The payment came back from the payout account; the amount is back in your wallet."),
    },
)
