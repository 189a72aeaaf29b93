"""Every write of the risk app: evaluations, rule changes and the blocklist.

These run inside the caller's transaction (payments evaluates under its per-user lock, in
its submit transaction), so they use plain ``atomic`` and never ``durable``.
"""

from dataclasses import asdict
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from risk import rules, selectors
from risk.kinds import Action, Flow, Kind
from risk.models import BlocklistEntry, RiskEvaluation, RiskRule
from risk.rules import Blocklisted, Facts, TransferFacts, WithdrawalFacts


def withdrawal_risk_evaluate(*, facts: WithdrawalFacts) -> RiskEvaluation:
    """Check the facts against every enabled withdrawal rule and store the decision.

    All rules run, so a rejection still lists every hit for the reviewer; the first
    rejecting rule by (priority, id) gives the refusal code and message.
    """
    blocklisted = selectors.blocklist_matches(user_id=facts.user_id, fingerprint=facts.payout_fingerprint)
    return _evaluate(flow=Flow.WITHDRAWAL, facts=facts, blocklisted=blocklisted)


def transfer_risk_evaluate(*, facts: TransferFacts) -> RiskEvaluation:
    """Check a user-to-user transfer against every enabled transfer rule and store the decision."""
    blocklisted = selectors.blocklist_matches_transfer(sender_id=facts.user_id, recipient_id=facts.recipient_id)
    return _evaluate(flow=Flow.TRANSFER, facts=facts, blocklisted=blocklisted)


def _evaluate(*, flow: str, facts: Facts, blocklisted: Blocklisted) -> RiskEvaluation:
    hits = [hit for rule in selectors.rules_enabled(flow=flow) if (hit := rules.rule_hit(rule, facts, blocklisted))]
    rejecting = next((hit for hit in hits if hit.action == Action.REJECT), None)
    decision = RiskEvaluation(
        flow=flow,
        user_id=facts.user_id,
        amount=facts.amount,
        hits=[asdict(hit) for hit in hits],
        inputs=facts.as_inputs(),
    )
    if rejecting:
        decision.outcome = RiskEvaluation.Outcome.REJECT
        decision.approvals_required = 0
        decision.refusal_code = rules.refusal_code(rejecting.kind)
        decision.refusal_message = rejecting.message
    elif hits:
        decision.outcome = RiskEvaluation.Outcome.REVIEW
        decision.approvals_required = 2 if any(hit.kind == Kind.FOUR_EYES for hit in hits) else 1
    else:
        decision.outcome = RiskEvaluation.Outcome.ALLOW
        decision.approvals_required = 1
    decision.save(force_insert=True)
    return decision


@transaction.atomic
def blocklist_add(
    *,
    kind: str,
    label: str,
    reason: str,
    actor: User,
    user: User | None = None,
    fingerprint: str = "",
) -> BlocklistEntry:
    """Block a user or a payout account (by the blind index of its number).

    Blocking what is already blocked returns the active entry, also when two staff
    members do it at the same moment.
    """
    if kind == BlocklistEntry.Kind.USER and (user is None or fingerprint):
        raise ValidationError({"user": "A user entry names a user and no payout account."})
    if kind == BlocklistEntry.Kind.PAYOUT_ACCOUNT and (user is not None or not fingerprint):
        raise ValidationError({"fingerprint": "A payout account entry names a fingerprint and no user."})
    user_id = user.pk if user is not None else None
    existing = selectors.blocklist_active_entry(kind=kind, user_id=user_id, fingerprint=fingerprint)
    if existing:
        return existing
    entry = BlocklistEntry(kind=kind, user=user, fingerprint=fingerprint, label=label, reason=reason, created_by=actor)
    entry.clean_fields()
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        winner = selectors.blocklist_active_entry(kind=kind, user_id=user_id, fingerprint=fingerprint)
        if winner is None:
            raise
        return winner
    return entry


@transaction.atomic
def blocklist_remove(*, entry: BlocklistEntry, actor: User) -> BlocklistEntry:
    """Deactivate the entry, recording who removed it; removing it again changes nothing."""
    entry = BlocklistEntry.objects.select_for_update().get(pk=entry.pk)
    if not entry.active:
        return entry
    entry.active = False
    entry.removed_by = actor
    entry.removed_at = timezone.now()
    entry.save(update_fields=["active", "removed_by", "removed_at"])
    return entry


@transaction.atomic
def rule_change(*, rule: RiskRule, actor: User, changes: dict[str, Any]) -> RiskRule:
    """Change columns of a rule, each one only if ``actor`` may (risk.selectors); nothing
    changes when any of them is refused or the result does not fit the rule's kind."""
    refused = sorted(set(changes) - selectors.rule_changeable_fields(rule=rule, actor=actor))
    if refused:
        raise PermissionDenied(f"You may not change {', '.join(refused)} of the rule {rule.code}.")
    locked = RiskRule.objects.select_for_update().get(pk=rule.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save(update_fields=[*changes, "updated_at"])
    return locked
