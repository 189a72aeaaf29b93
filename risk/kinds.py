"""What a rule can be: the flow it guards (withdrawals or user-to-user transfers), its kinds,
actions, periods and refusal codes, the parameter columns each kind reads, and which columns a
switch may change. Data only: the rule rows (risk.models) and their evaluation (risk.rules) both
read it."""

from django.db import models


class Flow(models.TextChoices):
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER = "transfer", "Transfer between users"


class Period(models.TextChoices):
    HOUR = "hour", "rolling hour"
    DAY = "day", "calendar day"
    DAYS_30 = "days_30", "rolling 30 days"


class Kind(models.TextChoices):
    AMOUNT_MIN = "amount_min", "Minimum amount"
    AMOUNT_MAX = "amount_max", "Maximum single amount"
    AMOUNT_REVIEW = "amount_review", "Review above amount"
    FOUR_EYES = "four_eyes", "Two approvals from amount"
    COUNT_LIMIT = "count_limit", "Count per period"
    AMOUNT_LIMIT = "amount_limit", "Amount per period"
    USER_BLOCKED = "user_blocked", "Inactive or blocklisted user"
    PAYOUT_ACCOUNT_BLOCKED = "payout_account_blocked", "Blocklisted payout account"
    WINDOW = "window", "Closed time window"
    ROLLOUT = "rollout", "Staged rollout"
    NEW_RECIPIENT_REVIEW = "new_recipient_review", "Review from amount to a new recipient"
    COUNTERPARTY_BLOCKED = "counterparty_blocked", "Inactive or blocklisted recipient"


class Action(models.TextChoices):
    REJECT = "reject", "Reject"
    REVIEW = "review", "Send to review"


class RefusalCode(models.TextChoices):
    """The API error codes of docs/ARCHITECTURE.md §9 a rejection maps to."""

    LIMIT_EXCEEDED = "limit_exceeded", "Limit exceeded"
    RISK_REJECTED = "risk_rejected", "Refused by risk control"
    WINDOW_CLOSED = "window_closed", "Outside the withdrawal window"
    NOT_AVAILABLE = "not_available", "Not available yet"


# The parameter columns each kind reads; every other parameter must be empty.
PARAMETERS: dict[str, tuple[str, ...]] = {
    Kind.AMOUNT_MIN: ("amount",),
    Kind.AMOUNT_MAX: ("amount",),
    Kind.AMOUNT_REVIEW: ("amount",),
    Kind.FOUR_EYES: ("amount",),
    Kind.COUNT_LIMIT: ("count", "period"),
    Kind.AMOUNT_LIMIT: ("amount", "period"),
    Kind.USER_BLOCKED: (),
    Kind.PAYOUT_ACCOUNT_BLOCKED: (),
    Kind.WINDOW: ("closed_from", "closed_until"),
    Kind.ROLLOUT: ("percent",),
    Kind.NEW_RECIPIENT_REVIEW: ("amount",),
    Kind.COUNTERPARTY_BLOCKED: (),
}
# The kinds each flow's facts can answer; a rule of another kind would never fire.
FLOW_KINDS: dict[str, tuple[str, ...]] = {
    Flow.WITHDRAWAL: (
        Kind.AMOUNT_MIN,
        Kind.AMOUNT_MAX,
        Kind.AMOUNT_REVIEW,
        Kind.FOUR_EYES,
        Kind.COUNT_LIMIT,
        Kind.AMOUNT_LIMIT,
        Kind.USER_BLOCKED,
        Kind.PAYOUT_ACCOUNT_BLOCKED,
        Kind.WINDOW,
        Kind.ROLLOUT,
    ),
    Flow.TRANSFER: (
        Kind.AMOUNT_MIN,
        Kind.AMOUNT_MAX,
        Kind.AMOUNT_REVIEW,
        Kind.COUNT_LIMIT,
        Kind.AMOUNT_LIMIT,
        Kind.USER_BLOCKED,
        Kind.COUNTERPARTY_BLOCKED,
        Kind.NEW_RECIPIENT_REVIEW,
    ),
}
PARAMETER_FIELDS = ("amount", "count", "period", "closed_from", "closed_until", "percent")
# What ``risk.switch_riskrule`` (operations) may change, by kind: the window and the staged
# rollout switch availability, never a limit or a threshold. Everything else of a rule needs
# ``risk.change_riskrule`` (finance supervisors), so no single operator can loosen a control.
SWITCHES: dict[str, frozenset[str]] = {
    Kind.WINDOW: frozenset({"enabled", "closed_from", "closed_until"}),
    Kind.ROLLOUT: frozenset({"enabled", "percent"}),
}
# Every column of a rule that anyone may change; ``code`` and ``kind`` are its identity.
CHANGEABLE_FIELDS = frozenset({"enabled", "action", "priority", "message", *PARAMETER_FIELDS})
# Kinds whose whole point is a person looking at the withdrawal: they cannot reject.
REVIEW_ONLY_KINDS = (Kind.AMOUNT_REVIEW, Kind.FOUR_EYES, Kind.NEW_RECIPIENT_REVIEW)

REFUSAL_CODES: dict[str, RefusalCode] = {
    Kind.USER_BLOCKED: RefusalCode.RISK_REJECTED,
    Kind.PAYOUT_ACCOUNT_BLOCKED: RefusalCode.RISK_REJECTED,
    Kind.COUNTERPARTY_BLOCKED: RefusalCode.RISK_REJECTED,
    Kind.WINDOW: RefusalCode.WINDOW_CLOSED,
    Kind.ROLLOUT: RefusalCode.NOT_AVAILABLE,
}
