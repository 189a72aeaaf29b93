"""The dashboard's figures, read from the orders (docs/OPERATIONS.md, "Dashboard").

Each figure is one aggregate over rows an index finds by status and time (the indexes are named
beside each query), so the dashboard costs the same on a year of orders as on a day's. A day is
a local calendar day (TIME_ZONE) of the orders' ``created_at``, as in the changelists' date
filters that the figures link to. "Stuck" and "escalated" are the sweeps' own definitions: the
same grace periods, imported from the sweeps.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.channels.models import Channel
from payments.dead_letters.models import DeadLetter
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import BusinessType, PaymentOrder, Refund
from payments.withdrawals import payouts
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from reconciliation.models import MONEY_ACTIONS, Discrepancy
from wallet.dates import local_midnight
from wallet.models import PeerTransfer

ZERO = Decimal("0.00")
KINDS = ("recharge", "payment", "refund", "withdrawal", "transfer")
# The statuses in which the channel has given its final word on an order it was sent.
COLLECTION_FINISHED = (
    PaymentOrder.Status.SUCCESS,
    PaymentOrder.Status.FAILED,
    PaymentOrder.Status.CLOSED,
    PaymentOrder.Status.REVERSED,
)
PAYOUT_FINISHED = (WithdrawalStatus.SUCCESS, WithdrawalStatus.FAILED, WithdrawalStatus.REFUNDED)
OPEN_DISCREPANCIES = (Discrepancy.Status.OPEN, Discrepancy.Status.INVESTIGATING)


@dataclass(frozen=True)
class Volume:
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Queue:
    count: int
    amount: Decimal
    oldest: datetime | None


@dataclass(frozen=True)
class ChannelDay:
    """How many of one channel's orders of a day it finished, and how many of those succeeded."""

    channel_id: int
    day: date
    succeeded: int
    finished: int


def succeeded(kind: str) -> QuerySet:
    """The orders of ``kind`` that moved their money: a day's volume is theirs."""
    if kind == "recharge":
        return PaymentOrder.objects.filter(business_type=BusinessType.RECHARGE, status=PaymentOrder.Status.SUCCESS)
    if kind == "payment":
        return PaymentOrder.objects.filter(business_type=BusinessType.ORDER_PAYMENT, status=PaymentOrder.Status.SUCCESS)
    if kind == "refund":
        return Refund.objects.filter(status=Refund.Status.SUCCESS)
    if kind == "withdrawal":
        return Withdrawal.objects.filter(status=WithdrawalStatus.SUCCESS)
    if kind == "transfer":
        return PeerTransfer.objects.filter(status=PeerTransfer.Status.POSTED)
    raise ValueError(f"unknown kind {kind!r}")


def volumes_by_day(*, first_day: date, last_day: date) -> dict[str, dict[date, Volume]]:
    """Count and amount per kind and local day; days without any are absent. Indexes:
    ``payment_order_created_idx`` and ``peer_transfer_status_idx`` hold every column read (rows
    are counted, not ids, so the table is not visited), ``refund_status_created_idx``,
    ``withdrawal_status_created_idx``."""
    start, end = local_midnight(first_day), local_midnight(last_day + timedelta(days=1))
    volumes: dict[str, dict[date, Volume]] = {}
    for kind in KINDS:
        rows = (
            succeeded(kind)
            .filter(created_at__gte=start, created_at__lt=end)
            .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("day")
            .annotate(count=Count("*"), amount=Sum("amount"))
            .order_by()
        )
        volumes[kind] = {row["day"]: Volume(row["count"], row["amount"]) for row in rows}
    return volumes


def channel_days(*, first_day: date, last_day: date) -> dict[str, list[ChannelDay]]:
    """Per channel and local day, the orders finished and succeeded: ``collection`` (payment
    orders) and ``payout`` (withdrawals). Open orders are left out, so a morning's rate is not
    lowered by orders still on their way. Counted from columns ``payment_order_created_idx``
    holds, so payment orders are read from the index alone."""
    start, end = local_midnight(first_day), local_midnight(last_day + timedelta(days=1))
    sources = {
        "collection": (PaymentOrder.objects.filter(status__in=COLLECTION_FINISHED), PaymentOrder.Status.SUCCESS),
        "payout": (Withdrawal.objects.filter(status__in=PAYOUT_FINISHED), WithdrawalStatus.SUCCESS),
    }
    found: dict[str, list[ChannelDay]] = defaultdict(list)
    for direction, (finished, success) in sources.items():
        rows = (
            finished.filter(channel__isnull=False, created_at__gte=start, created_at__lt=end)
            .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("channel", "day")
            .annotate(finished=Count("*"), succeeded=Count("status", filter=Q(status=success)))
            .order_by("channel", "day")
        )
        found[direction] = [ChannelDay(row["channel"], row["day"], row["succeeded"], row["finished"]) for row in rows]
    return dict(found)


def channel_names() -> dict[int, str]:
    return dict(Channel.objects.values_list("id", "name"))


def withdrawal_queue() -> tuple[Queue, int]:
    """The withdrawal approval queue and how many of it are four-eyes orders (two approvals,
    one a supervisor's). Index: ``withdrawal_status_created_idx``."""
    found = Withdrawal.objects.filter(status=WithdrawalStatus.PENDING).aggregate(
        count=Count("id"),
        amount=Sum("amount"),
        oldest=Min("created_at"),
        four_eyes=Count("id", filter=Q(approvals_required=2)),
    )
    return Queue(found["count"], found["amount"] or ZERO, found["oldest"]), found["four_eyes"]


def transfer_queue() -> Queue:
    """User-to-user transfers held for review. Index: ``peer_transfer_review_idx``."""
    found = PeerTransfer.objects.filter(status=PeerTransfer.Status.UNDER_REVIEW).aggregate(
        count=Count("id"), amount=Sum("amount"), oldest=Min("created_at")
    )
    return Queue(found["count"], found["amount"] or ZERO, found["oldest"])


@dataclass(frozen=True)
class Cutoffs:
    """The instants before which an order counts as stuck, each its sweep's grace before ``now``."""

    now: datetime
    approved: datetime
    processing: datetime
    escalate: datetime
    refund_pending: datetime
    refund_processing: datetime


def cutoffs_at(now: datetime) -> Cutoffs:
    return Cutoffs(
        now=now,
        approved=now - payouts.APPROVED_GRACE,
        processing=now - payouts.PROCESSING_GRACE,
        escalate=now - payment_orders.ESCALATE_AFTER,
        refund_pending=now - refunds.PENDING_STUCK_AFTER,
        refund_processing=now - refunds.PROCESSING_STUCK_AFTER,
    )


def incidents(*, now: datetime) -> dict[str, QuerySet]:
    """What needs someone's attention, by name: the sweeps' stuck and escalated orders, dead
    letters not retried, discrepancies not closed and money steps waiting for a supervisor."""
    cutoff = cutoffs_at(now)
    return {
        "withdrawals_not_sent": Withdrawal.objects.filter(
            status=WithdrawalStatus.APPROVED, approved_at__lt=cutoff.approved
        ),
        "withdrawals_processing": Withdrawal.objects.filter(
            status=WithdrawalStatus.PROCESSING, dispatched_at__lt=cutoff.processing
        ),
        "withdrawals_escalated": Withdrawal.objects.filter(status__in=payouts.NON_FINAL, escalated_at__isnull=False),
        # The hourly escalation's orders (payments_escalate), in its two parts. Index:
        # ``payment_order_open_created_idx``.
        "orders_not_final": PaymentOrder.objects.filter(
            status__in=(PaymentOrder.Status.PENDING, PaymentOrder.Status.PAYING), created_at__lt=cutoff.escalate
        ),
        "orders_awaiting_expired": PaymentOrder.objects.filter(
            status=PaymentOrder.Status.AWAITING, created_at__lt=cutoff.escalate, expires_at__lte=now
        ),
        "refunds_pending": Refund.objects.filter(status=Refund.Status.PENDING, created_at__lte=cutoff.refund_pending),
        "refunds_processing": Refund.objects.filter(
            status=Refund.Status.PROCESSING, sent_at__lte=cutoff.refund_processing
        ),
        "dead_letters": DeadLetter.objects.filter(retried_at__isnull=True),
        "discrepancies_open": Discrepancy.objects.filter(status__in=OPEN_DISCREPANCIES),
        "discrepancy_proposals": Discrepancy.objects.filter(
            status=Discrepancy.Status.INVESTIGATING, proposed_action__in=MONEY_ACTIONS, approved_by__isnull=True
        ),
    }
