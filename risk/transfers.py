"""Risk control's transfer guard: the transfer rules and the blocklist, for wallet's transfers.

``wallet`` cannot import risk (docs/ARCHITECTURE.md §2), so risk registers this guard with
``wallet.transfers.guards`` when its app is ready; without it transfers are refused.
"""

from dataclasses import dataclass

from risk import selectors, services
from risk.kinds import Flow, Kind
from risk.models import RiskEvaluation, RiskRule
from risk.rules import TransferFacts, period_starts
from wallet import errors
from wallet.transfers import selectors as transfer_selectors
from wallet.transfers.guards import Outcome, TransferAttempt, Verdict

_REFUSALS: dict[str, type[errors.ApplicationError]] = {
    RiskEvaluation.RefusalCode.LIMIT_EXCEEDED: errors.LimitExceeded,
    RiskEvaluation.RefusalCode.RISK_REJECTED: errors.RiskRejected,
    RiskEvaluation.RefusalCode.WINDOW_CLOSED: errors.WindowClosed,
    RiskEvaluation.RefusalCode.NOT_AVAILABLE: errors.NotAvailable,
}
_OUTCOMES = {
    RiskEvaluation.Outcome.ALLOW: Outcome.ALLOW,
    RiskEvaluation.Outcome.REVIEW: Outcome.REVIEW,
    RiskEvaluation.Outcome.REJECT: Outcome.REJECT,
}


@dataclass(frozen=True)
class RiskTransferGuard:
    """Counts the sender's transfers, evaluates the transfer rules and logs a ``RiskEvaluation``."""

    def evaluate(self, attempt: TransferAttempt) -> Verdict:
        history = transfer_selectors.transfer_history(sender_id=attempt.sender_id, since=period_starts(attempt.now))
        evaluation = services.transfer_risk_evaluate(
            facts=TransferFacts(
                user_id=attempt.sender_id,
                user_active=attempt.sender_active,
                recipient_id=attempt.recipient_id,
                recipient_active=attempt.recipient_active,
                amount=attempt.amount,
                new_recipient=attempt.new_recipient,
                via_receive_code=attempt.via_receive_code,
                counts=history.counts,
                amounts=history.amounts,
                now=attempt.now,
            )
        )
        refusal = None
        if evaluation.outcome == RiskEvaluation.Outcome.REJECT:
            deciding = next(hit["rule"] for hit in evaluation.hits if hit["action"] == "reject")
            refusal = _REFUSALS[evaluation.refusal_code](evaluation.refusal_message, fields={"risk_rule": deciding})
        return Verdict(
            outcome=_OUTCOMES[RiskEvaluation.Outcome(evaluation.outcome)],
            reference=f"risk_evaluation:{evaluation.pk}",
            refusal=refusal,
        )

    def approval_refusal(self, *, sender_id: int, recipient_id: int) -> errors.ApplicationError | None:
        """A reviewer cannot approve a transfer whose sender or recipient was blocklisted after it
        was sent: ``risk_rejected`` naming the blocking rule; the reviewer rejects it instead."""
        blocked = selectors.blocklist_matches_transfer(sender_id=sender_id, recipient_id=recipient_id)
        for kind, label in ((Kind.USER_BLOCKED, blocked.user), (Kind.COUNTERPARTY_BLOCKED, blocked.counterparty)):
            rule = RiskRule.objects.filter(flow=Flow.TRANSFER, kind=kind, enabled=True).order_by("priority").first()
            if label and rule is not None:
                return errors.RiskRejected(rule.message, fields={"risk_rule": rule.code})
        return None
