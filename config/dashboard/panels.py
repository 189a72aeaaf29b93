"""What the dashboard shows one staff member: the figures their permissions let them open, each
linked to the filtered changelist that lists the same rows (docs/OPERATIONS.md, "Dashboard").

A figure is shown only to who may view the changelist behind it, so each role sees its own
panels: the approval queues to those who approve, dead letters to operations and auditors,
discrepancies to finance and auditors, the money steps waiting for a supervisor to
supervisors. The links use the changelists' own filter parameters (and plain field lookups,
which the admin allows on a model's own fields), so a click shows the rows that were counted.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser, PermissionsMixin
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.dashboard import chart, selectors
from config.dashboard.selectors import COLLECTION_FINISHED, PAYOUT_FINISHED, ChannelDay, Volume
from config.dashboard.snapshot import Snapshot, snapshot_get
from payments.withdrawals.payouts import NON_FINAL
from reconciliation.models import MONEY_ACTIONS

PERCENT = Decimal("0.1")


@dataclass(frozen=True)
class Kind:
    label: Promise
    changelist: str
    params: dict[str, str]
    permission: str
    color: str


# The changelist filters that list each kind's succeeded orders (selectors.succeeded).
KINDS = {
    "recharge": Kind(
        label=pgettext_lazy("dashboard", "Recharges"),
        changelist="payments_paymentorder",
        params={"business_type__exact": "recharge", "status__exact": "success"},
        permission="payments.view_paymentorder",
        color="#2b7bb9",
    ),
    "payment": Kind(
        label=pgettext_lazy("dashboard", "Order payments"),
        changelist="payments_paymentorder",
        params={"business_type__exact": "order_payment", "status__exact": "success"},
        permission="payments.view_paymentorder",
        color="#3a9d5d",
    ),
    "refund": Kind(
        label=pgettext_lazy("dashboard", "Refunds"),
        changelist="payments_refund",
        params={"status__exact": "success"},
        permission="payments.view_refund",
        color="#d08c1f",
    ),
    "withdrawal": Kind(
        label=pgettext_lazy("dashboard", "Withdrawals"),
        changelist="payments_withdrawal",
        params={"status": "success"},
        permission="payments.view_withdrawal",
        color="#c0392b",
    ),
    "transfer": Kind(
        label=pgettext_lazy("dashboard", "Transfers"),
        changelist="wallet_peertransfer",
        params={"status": "posted"},
        permission="wallet.view_peertransfer",
        color="#7d5ba6",
    ),
}


@dataclass(frozen=True)
class Figure:
    key: str
    label: Promise
    value: Any  # a count, an amount (Decimal) or an instant whose age is shown
    kind: str  # "count", "amount" or "age": how the template shows ``value``
    url: str


@dataclass(frozen=True)
class VolumeCell:
    count: int
    amount: Decimal
    url: str


@dataclass(frozen=True)
class VolumeRow:
    kind: str
    label: Promise
    today: VolumeCell
    yesterday: VolumeCell


@dataclass(frozen=True)
class RateCell:
    succeeded: int
    finished: int
    succeeded_url: str
    finished_url: str

    @property
    def rate(self) -> Decimal | None:
        """Per cent of the finished orders that succeeded; None when none finished."""
        if not self.finished:
            return None
        return (Decimal(100) * self.succeeded / self.finished).quantize(PERCENT)


@dataclass(frozen=True)
class RateRow:
    channel: str
    direction: Promise
    today: RateCell
    yesterday: RateCell


@dataclass(frozen=True)
class Dashboard:
    taken_at: datetime  # local time
    age_seconds: int
    today: date
    yesterday: date
    review: list[Figure]
    volumes: list[VolumeRow]
    rates: list[RateRow]
    incidents: list[Figure]
    chart: SafeString | None

    @property
    def is_empty(self) -> bool:
        return not (self.review or self.volumes or self.rates or self.incidents)


def changelist_url(changelist: str, params: dict[str, str] | None = None) -> str:
    url = reverse(f"admin:{changelist}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def day_params(day: date) -> dict[str, str]:
    """The changelists' local-date filter (wallet.adminkit.DateRangeFilter) on one day."""
    return {"created_at_from": day.isoformat(), "created_at_to": day.isoformat()}


def dashboard_for(user: PermissionsMixin | AnonymousUser) -> Dashboard | None:
    """The dashboard of ``user`` from the cached snapshot; None when they may see none of it."""
    snapshot = snapshot_get()
    now = timezone.now()
    board = Dashboard(
        taken_at=timezone.localtime(snapshot.taken_at),
        age_seconds=max(int((now - snapshot.taken_at).total_seconds()), 0),
        today=snapshot.today,
        yesterday=snapshot.yesterday,
        review=[figure for permission, figure in _review(snapshot) if user.has_perm(permission)],
        volumes=[row for row in _volumes(snapshot) if user.has_perm(KINDS[row.kind].permission)],
        rates=[row for permission, row in _rates(snapshot) if user.has_perm(permission)],
        incidents=[figure for permission, figure in _incidents(snapshot) if user.has_perm(permission)],
        chart=_chart(snapshot, [kind for kind, spec in KINDS.items() if user.has_perm(spec.permission)]),
    )
    return None if board.is_empty else board


def _review(snapshot: Snapshot) -> list[tuple[str, Figure]]:
    queue, transfers = snapshot.withdrawal_queue, snapshot.transfer_queue
    pending = changelist_url("payments_withdrawal", {"status": "pending"})
    held = changelist_url("wallet_peertransfer", {"status": "under_review"})
    approve, review = "payments.approve_withdrawal", "wallet.review_peertransfer"
    figures = [
        (approve, Figure("withdrawal-queue", _("Withdrawals waiting for review"), queue.count, "count", pending)),
        (approve, Figure("withdrawal-queue-amount", _("Amount waiting"), queue.amount, "amount", pending)),
        (approve, Figure("withdrawal-queue-oldest", _("Oldest waiting for"), queue.oldest, "age", pending)),
        (
            approve,
            Figure(
                "four-eyes",
                _("Four-eyes withdrawals waiting (one approval must be a supervisor's)"),
                snapshot.four_eyes,
                "count",
                changelist_url("payments_withdrawal", {"status": "pending", "approvals_required__exact": "2"}),
            ),
        ),
        (review, Figure("transfer-queue", _("Transfers held for review"), transfers.count, "count", held)),
        (review, Figure("transfer-queue-amount", _("Amount held"), transfers.amount, "amount", held)),
        (review, Figure("transfer-queue-oldest", _("Oldest held for"), transfers.oldest, "age", held)),
        (
            "reconciliation.approve_discrepancy",
            Figure(
                "discrepancy-proposals",
                _("Discrepancy steps waiting for a supervisor's approval"),
                snapshot.incidents["discrepancy_proposals"],
                "count",
                changelist_url(
                    "reconciliation_discrepancy",
                    {
                        "status__exact": "investigating",
                        "proposed_action__in": ",".join(MONEY_ACTIONS),
                        "approved_by__isnull": "True",
                    },
                ),
            ),
        ),
    ]
    # An empty queue has no oldest order: its age is left out rather than shown blank.
    return [(permission, figure) for permission, figure in figures if figure.value is not None]


def _volume_cell(kind: str, day: date, volume: Volume | None) -> VolumeCell:
    url = _day_url(kind, day)
    return VolumeCell(volume.count, volume.amount, url) if volume else VolumeCell(0, Decimal("0.00"), url)


def _volumes(snapshot: Snapshot) -> list[VolumeRow]:
    return [
        VolumeRow(
            kind,
            spec.label,
            _volume_cell(kind, snapshot.today, snapshot.volumes[kind].get(snapshot.today)),
            _volume_cell(kind, snapshot.yesterday, snapshot.volumes[kind].get(snapshot.yesterday)),
        )
        for kind, spec in KINDS.items()
    ]


# Per direction: the changelist, the filters of its succeeded and of its finished orders, and
# who may open it.
RATE_SOURCES = {
    "collection": (
        pgettext_lazy("dashboard", "Collection"),
        "payments_paymentorder",
        {"status__exact": "success"},
        {"status__in": ",".join(COLLECTION_FINISHED)},
        "payments.view_paymentorder",
    ),
    "payout": (
        pgettext_lazy("dashboard", "Payout"),
        "payments_withdrawal",
        {"status": "success"},
        {"status": "all", "status__in": ",".join(PAYOUT_FINISHED)},
        "payments.view_withdrawal",
    ),
}


def _rates(snapshot: Snapshot) -> list[tuple[str, RateRow]]:
    rows = []
    for direction, (label, changelist, success, finished, permission) in RATE_SOURCES.items():
        found = {(row.channel_id, row.day): row for row in snapshot.channel_days.get(direction, [])}
        for channel_id in sorted({channel_id for channel_id, _day in found}, key=snapshot.channel_names.__getitem__):
            cells = [
                _rate_cell(
                    found.get((channel_id, day)),
                    changelist,
                    {"channel__id__exact": str(channel_id), **day_params(day)},
                    success,
                    finished,
                )
                for day in (snapshot.today, snapshot.yesterday)
            ]
            rows.append((permission, RateRow(snapshot.channel_names[channel_id], label, *cells)))
    return rows


def _rate_cell(
    row: ChannelDay | None, changelist: str, scope: dict[str, str], success: dict[str, str], finished: dict[str, str]
) -> RateCell:
    return RateCell(
        row.succeeded if row else 0,
        row.finished if row else 0,
        changelist_url(changelist, {**scope, **success}),
        changelist_url(changelist, {**scope, **finished}),
    )


def _incidents(snapshot: Snapshot) -> list[tuple[str, Figure]]:
    cutoff = selectors.cutoffs_at(snapshot.taken_at)
    counts = snapshot.incidents
    withdrawals, orders, refunds = "payments.view_withdrawal", "payments.view_paymentorder", "payments.view_refund"
    specs = [
        (
            withdrawals,
            "withdrawals_not_sent",
            _("Withdrawals approved but not sent for over a minute"),
            "payments_withdrawal",
            {"status": "approved", "approved_at__lt": cutoff.approved.isoformat()},
        ),
        (
            withdrawals,
            "withdrawals_processing",
            _("Withdrawals processing at the channel for over 10 minutes"),
            "payments_withdrawal",
            {"status": "processing", "dispatched_at__lt": cutoff.processing.isoformat()},
        ),
        (
            withdrawals,
            "withdrawals_escalated",
            _("Withdrawals escalated: not final 4 hours after submission"),
            "payments_withdrawal",
            {"status": "all", "status__in": ",".join(NON_FINAL), "escalated_at__isnull": "False"},
        ),
        (
            orders,
            "orders_not_final",
            _("Payment orders pending or paying 4 hours after creation"),
            "payments_paymentorder",
            {"status__in": "pending,paying", "created_at__lt": cutoff.escalate.isoformat()},
        ),
        (
            orders,
            "orders_awaiting_expired",
            _("Payment orders awaiting their payer past their expiry, 4 hours after creation"),
            "payments_paymentorder",
            {
                "status__exact": "awaiting",
                "created_at__lt": cutoff.escalate.isoformat(),
                "expires_at__lte": cutoff.now.isoformat(),
            },
        ),
        (
            refunds,
            "refunds_pending",
            _("Refunds not sent to the channel for over a minute"),
            "payments_refund",
            {"status__exact": "pending", "created_at__lte": cutoff.refund_pending.isoformat()},
        ),
        (
            refunds,
            "refunds_processing",
            _("Refunds processing at the channel for over 10 minutes"),
            "payments_refund",
            {"status__exact": "processing", "sent_at__lte": cutoff.refund_processing.isoformat()},
        ),
        (
            "payments.view_deadletter",
            "dead_letters",
            _("Dead letters not retried"),
            "payments_deadletter",
            {"retried_at__isempty": "1"},
        ),
        (
            "reconciliation.view_discrepancy",
            "discrepancies_open",
            _("Reconciliation discrepancies open or under investigation"),
            "reconciliation_discrepancy",
            {"status__in": ",".join(selectors.OPEN_DISCREPANCIES)},
        ),
    ]
    return [
        (permission, Figure(name.replace("_", "-"), label, counts[name], "count", changelist_url(changelist, params)))
        for permission, name, label, changelist, params in specs
    ]


def _chart(snapshot: Snapshot, kinds: list[str]) -> SafeString | None:
    if not kinds:
        return None
    series = [
        chart.Series(
            kind,
            str(KINDS[kind].label),
            KINDS[kind].color,
            [
                chart.Point(day, volume.amount, volume.count, _day_url(kind, day))
                for day in snapshot.days
                for volume in [snapshot.volumes[kind].get(day) or Volume(0, Decimal("0.00"))]
            ],
        )
        for kind in kinds
    ]
    return chart.chart_svg(days=snapshot.days, series=series)


def _day_url(kind: str, day: date) -> str:
    spec = KINDS[kind]
    return changelist_url(spec.changelist, {**spec.params, **day_params(day)})
