"""The rules of withdrawals and transfers as pure functions of the facts.

Nothing here touches the database: the caller gathers the facts (payments counts its own
orders under the user's lock; the transfer guard counts the sender's transfers under the
sender's lock), risk.services adds the blocklist matches, and each enabled ``RiskRule`` row of
the flow is checked against them. Only orders and transfers that committed count, so a refused
or rolled-back one never consumes quota.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.utils import timezone

from risk.kinds import REFUSAL_CODES, Kind, Period, RefusalCode
from risk.models import RiskRule

T = TypeVar("T")


@dataclass(frozen=True)
class WithdrawalFacts:
    """What the rules look at, gathered by payments under the user's lock.

    ``counts`` are the user's withdrawal orders since each ``period_starts(now)`` (all
    statuses); ``amounts`` their sum without cancelled, rejected and failed ones.
    ``payout_fingerprint`` is the blind index of the card number or openid.
    """

    user_id: int
    user_active: bool
    amount: Decimal
    payout_fingerprint: str
    counts: Mapping[str, int]
    amounts: Mapping[str, Decimal]
    now: datetime

    def __post_init__(self) -> None:
        if timezone.is_naive(self.now):
            raise ValueError("now must be an aware datetime")
        missing = [period.value for period in Period if period not in self.counts or period not in self.amounts]
        if missing:
            raise ValueError(f"counts and amounts need every period, missing {missing}")

    def as_inputs(self) -> dict[str, Any]:
        """JSON for the stored evaluation, so a reviewer sees what was decided on."""
        return {
            "user_id": self.user_id,
            "user_active": self.user_active,
            "amount": str(self.amount),
            "payout_fingerprint": self.payout_fingerprint,
            "counts": {period.value: self.counts[period] for period in Period},
            "amounts": {period.value: str(self.amounts[period]) for period in Period},
            "now": self.now.isoformat(),
        }


@dataclass(frozen=True)
class TransferFacts:
    """What the transfer rules look at, gathered by the transfer guard under the sender's lock.

    ``counts`` and ``amounts`` are the sender's transfers since each ``period_starts(now)``,
    posted or held for review (a rejected one gave its money back and counts for nothing);
    ``new_recipient`` is True when the sender never had a transfer to the recipient posted.
    """

    user_id: int
    user_active: bool
    recipient_id: int
    recipient_active: bool
    amount: Decimal
    new_recipient: bool
    via_receive_code: bool
    counts: Mapping[str, int]
    amounts: Mapping[str, Decimal]
    now: datetime

    def __post_init__(self) -> None:
        if timezone.is_naive(self.now):
            raise ValueError("now must be an aware datetime")
        missing = [period.value for period in Period if period not in self.counts or period not in self.amounts]
        if missing:
            raise ValueError(f"counts and amounts need every period, missing {missing}")

    def as_inputs(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_active": self.user_active,
            "recipient_id": self.recipient_id,
            "recipient_active": self.recipient_active,
            "amount": str(self.amount),
            "new_recipient": self.new_recipient,
            "via_receive_code": self.via_receive_code,
            "counts": {period.value: self.counts[period] for period in Period},
            "amounts": {period.value: str(self.amounts[period]) for period in Period},
            "now": self.now.isoformat(),
        }


Facts = WithdrawalFacts | TransferFacts


@dataclass(frozen=True)
class Blocklisted:
    """Labels of the active blocklist entries matching the facts ("" when none)."""

    user: str = ""
    payout_account: str = ""
    counterparty: str = ""


@dataclass(frozen=True)
class Hit:
    """A rule that fired: ``observed`` is the fact it compared, ``limit`` its parameter."""

    rule: str
    kind: str
    action: str
    message: str
    observed: str
    limit: str


def period_starts(now: datetime) -> dict[str, datetime]:
    """Where each period begins: rolling hour and 30 days, local midnight for the day."""
    local = timezone.localtime(now, timezone.get_default_timezone())
    return {
        Period.HOUR: now - timedelta(hours=1),
        Period.DAY: local.replace(hour=0, minute=0, second=0, microsecond=0),
        Period.DAYS_30: now - timedelta(days=30),
    }


def rule_hit(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Hit | None:
    """The hit of ``rule`` on the facts, or None when it does not fire."""
    fired = _CHECKS[rule.kind](rule, facts, blocklisted)
    if fired is None:
        return None
    observed, limit = fired
    return Hit(rule=rule.code, kind=rule.kind, action=rule.action, message=rule.message, observed=observed, limit=limit)


def refusal_code(kind: str) -> RefusalCode:
    return REFUSAL_CODES.get(kind, RefusalCode.LIMIT_EXCEEDED)


# Each check returns (observed, limit) when the rule fires, else None.
Fired = tuple[str, str] | None


def _param(rule: RiskRule, name: str, value: T | None) -> T:
    """A parameter the kind requires; the rule table's check constraint guarantees it is set."""
    if value is None:
        raise ValueError(f"risk rule {rule.code} has no {name}")
    return value


def _amount_min(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    limit = _param(rule, "amount", rule.amount)
    return (str(facts.amount), str(limit)) if facts.amount < limit else None


def _amount_above(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    limit = _param(rule, "amount", rule.amount)
    return (str(facts.amount), str(limit)) if facts.amount > limit else None


def _four_eyes(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    limit = _param(rule, "amount", rule.amount)
    return (str(facts.amount), str(limit)) if facts.amount >= limit else None


def _count_limit(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    limit = _param(rule, "count", rule.count)
    including_this = facts.counts[_param(rule, "period", rule.period)] + 1
    return (str(including_this), str(limit)) if including_this > limit else None


def _amount_limit(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    limit = _param(rule, "amount", rule.amount)
    including_this = facts.amounts[_param(rule, "period", rule.period)] + facts.amount
    return (str(including_this), str(limit)) if including_this > limit else None


def _user_blocked(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    if not facts.user_active:
        return "inactive user", ""
    return (f"blocklisted: {blocklisted.user}", "") if blocklisted.user else None


def _payout_account_blocked(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    return (f"blocklisted: {blocklisted.payout_account}", "") if blocklisted.payout_account else None


def _window(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    closed_from = _param(rule, "closed_from", rule.closed_from)
    closed_until = _param(rule, "closed_until", rule.closed_until)
    moment = timezone.localtime(facts.now, timezone.get_default_timezone()).time()
    # [closed_from, closed_until), wrapping past midnight when it ends "before" it starts.
    if closed_from < closed_until:
        closed = closed_from <= moment < closed_until
    else:
        closed = moment >= closed_from or moment < closed_until
    if not closed:
        return None
    return moment.isoformat(timespec="seconds"), f"{closed_from:%H:%M}-{closed_until:%H:%M}"


def _rollout(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    percent = _param(rule, "percent", rule.percent)
    bucket = facts.user_id % 100
    return (f"bucket {bucket}", f"buckets below {percent}") if bucket >= percent else None


def _new_recipient_review(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    if not isinstance(facts, TransferFacts) or not facts.new_recipient:
        return None
    limit = _param(rule, "amount", rule.amount)
    return (f"{facts.amount} to a new recipient", str(limit)) if facts.amount >= limit else None


def _counterparty_blocked(rule: RiskRule, facts: Facts, blocklisted: Blocklisted) -> Fired:
    if isinstance(facts, TransferFacts) and not facts.recipient_active:
        return "inactive recipient", ""
    return (f"blocklisted: {blocklisted.counterparty}", "") if blocklisted.counterparty else None


_CHECKS: dict[str, Callable[[RiskRule, Facts, Blocklisted], Fired]] = {
    Kind.AMOUNT_MIN: _amount_min,
    Kind.AMOUNT_MAX: _amount_above,
    Kind.AMOUNT_REVIEW: _amount_above,
    Kind.FOUR_EYES: _four_eyes,
    Kind.COUNT_LIMIT: _count_limit,
    Kind.AMOUNT_LIMIT: _amount_limit,
    Kind.USER_BLOCKED: _user_blocked,
    Kind.PAYOUT_ACCOUNT_BLOCKED: _payout_account_blocked,
    Kind.WINDOW: _window,
    Kind.ROLLOUT: _rollout,
    Kind.NEW_RECIPIENT_REVIEW: _new_recipient_review,
    Kind.COUNTERPARTY_BLOCKED: _counterparty_blocked,
}
