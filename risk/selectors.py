"""Read queries over rules and the blocklist."""

from django.contrib.auth.models import User
from django.db.models import Q

from risk.kinds import CHANGEABLE_FIELDS, SWITCHES
from risk.models import BlocklistEntry, RiskRule
from risk.rules import Blocklisted


def rules_enabled(*, flow: str) -> list[RiskRule]:
    """The flow's rules in force, in the order that decides which refusal is reported."""
    return list(RiskRule.objects.filter(enabled=True, flow=flow).order_by("priority", "id"))


def blocklist_matches(*, user_id: int, fingerprint: str) -> Blocklisted:
    """The labels of the active entries for the user and the payout account, in one query."""
    entries = BlocklistEntry.objects.filter(
        Q(kind=BlocklistEntry.Kind.USER, user_id=user_id)
        | Q(kind=BlocklistEntry.Kind.PAYOUT_ACCOUNT, fingerprint=fingerprint),
        active=True,
    ).values_list("kind", "label")
    labels = dict(entries)
    return Blocklisted(
        user=labels.get(BlocklistEntry.Kind.USER, ""),
        payout_account=labels.get(BlocklistEntry.Kind.PAYOUT_ACCOUNT, ""),
    )


def blocklist_matches_transfer(*, sender_id: int, recipient_id: int) -> Blocklisted:
    """The labels of the active entries for the sender and the recipient, in one query."""
    labels = dict(
        BlocklistEntry.objects.filter(
            kind=BlocklistEntry.Kind.USER, user_id__in=[sender_id, recipient_id], active=True
        ).values_list("user_id", "label")
    )
    return Blocklisted(user=labels.get(sender_id, ""), counterparty=labels.get(recipient_id, ""))


def blocklist_active_entry(*, kind: str, user_id: int | None, fingerprint: str) -> BlocklistEntry | None:
    target = Q(user_id=user_id) if kind == BlocklistEntry.Kind.USER else Q(fingerprint=fingerprint)
    return BlocklistEntry.objects.filter(target, kind=kind, active=True).first()


def rule_changeable_fields(*, rule: RiskRule, actor: User) -> frozenset[str]:
    """The columns of ``rule`` that ``actor`` may change: every one with ``change_riskrule``, the
    switches of the window and the rollout with ``switch_riskrule``, none otherwise."""
    if actor.has_perm("risk.change_riskrule"):
        return CHANGEABLE_FIELDS
    if actor.has_perm("risk.switch_riskrule"):
        return SWITCHES.get(rule.kind, frozenset())
    return frozenset()
