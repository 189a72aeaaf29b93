"""The near-real-time check (docs/RECONCILIATION.md, "Near-real-time check"): the moment a payment
order, refund or withdrawal is final, check its ledger effects and ask its channel whether it
agrees, instead of waiting for the next day's bill.

payments sends ``order_finished`` on commit (payments.signals, connected in apps.py); the
receiver only queues ``reconciliation.order_check``, whose task runs ``order_check``. A channel
that does not answer opens nothing: the nightly run sees the order in the bill anyway.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from payments.channels import base, registry
from payments.channels.models import Channel
from payments.orders.models import PaymentOrder, Refund
from payments.withdrawals.models import Withdrawal
from reconciliation import internal
from reconciliation.models import Discrepancy, Outcome
from wallet.task_queue import task_enqueue

logger = logging.getLogger(__name__)

ORDER_CHECK_TASK = "reconciliation.order_check"

# The channel's answer in the words of its bills (payments.channels.bills.LineStatus); "" is
# "the channel has no such order".
PAYMENT_STATES = {
    base.PaymentState.PAID: "success",
    base.PaymentState.NOT_PAID: "processing",
    base.PaymentState.CLOSED: "failed",
    base.PaymentState.NOT_FOUND: "",
}
REFUND_STATES = {
    base.RefundState.SUCCESS: "success",
    base.RefundState.PROCESSING: "processing",
    base.RefundState.FAILED: "failed",
    base.RefundState.NOT_FOUND: "",
}
PAYOUT_STATES = {
    base.PayoutState.SUCCESS: "success",
    base.PayoutState.PROCESSING: "processing",
    base.PayoutState.FAILED: "failed",
    base.PayoutState.RETURNED: "returned",
    base.PayoutState.NOT_FOUND: "",
}
# Each final state of ours: what it is in the channel's words, and the channel's answers that
# agree with it. A reversed payment is one the channel never collected, whatever it says of it
# otherwise. A payout we never sent (rejected, cancelled) is not asked about.
AGREEING: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("payment", "success"): ("success", frozenset({"success"})),
    ("payment", "closed"): ("failed", frozenset({"failed", ""})),
    ("payment", "failed"): ("failed", frozenset({"failed", ""})),
    ("payment", "reversed"): ("failed", frozenset({"failed", "", "processing"})),
    ("refund", "success"): ("success", frozenset({"success"})),
    ("refund", "failed"): ("failed", frozenset({"failed", ""})),
    ("payout", "success"): ("success", frozenset({"success"})),
    ("payout", "refunded"): ("returned", frozenset({"returned"})),
    ("payout", "failed"): ("failed", frozenset({"failed", ""})),
}


@dataclass(frozen=True)
class Answer:
    status: str  # in the channel's bill words
    amount: Decimal | None  # None when the channel did not say


@dataclass(frozen=True)
class Ours:
    """An order as the channel should know it, and how to ask the channel about it."""

    object_kind: str
    order_no: str
    status: str
    amount: Decimal  # what the channel moves: a payout's actual amount
    channel: Channel
    ask: Callable[[], Answer]


def order_finished_receive(sender: type, *, kind: str, pk: int, **kwargs: object) -> None:
    """Receiver of payments.signals.order_finished (sent after commit): queue the check."""
    task_enqueue(ORDER_CHECK_TASK, kind, pk)


def order_check(*, kind: str, pk: int) -> list[str]:
    """Check one final order (``kind`` payment, refund or payout): its ledger effects, then its
    channel's state. Opens a discrepancy dated today for each difference; returns their kinds."""
    found = [difference.outcome for difference in internal.order_ledger_check(kind=kind, pk=pk)]
    ours = ORDERS[kind](pk)
    if ours is None or (kind, ours.status) not in AGREEING:
        return found
    try:
        answer = ours.ask()
    except (base.RetryableError, base.UnknownOutcome) as exc:
        logger.warning(
            "near-real-time check of %s %s: %s did not answer (%s); the nightly reconciliation will see it",
            kind,
            ours.order_no,
            ours.channel.code,
            exc,
        )
        return found
    outcome = _compare(ours, answer)
    if outcome is not None:
        _open(ours, answer, outcome)
        found.append(str(outcome))
    return found


def _compare(ours: Ours, answer: Answer) -> Outcome | None:
    _, agreeing = AGREEING[(ours.object_kind, ours.status)]
    if answer.status not in agreeing:
        return Outcome.STATUS_MISMATCH
    if answer.status == "success" and answer.amount is not None and answer.amount != ours.amount:
        return Outcome.AMOUNT_MISMATCH
    return None


def _open(ours: Ours, answer: Answer, outcome: Outcome) -> None:
    local_status, _ = AGREEING[(ours.object_kind, ours.status)]
    said = f"says {answer.status or 'it has no such order'}"
    if answer.amount is not None:
        said += f" for {answer.amount}"
    logger.error(
        "near-real-time check: %s %s is %s here but %s %s",
        ours.object_kind,
        ours.order_no,
        ours.status,
        ours.channel.code,
        said,
    )
    Discrepancy.objects.bulk_create(
        [
            Discrepancy(
                kind=outcome,
                channel=ours.channel,
                bill_date=timezone.localdate(),
                object_kind=ours.object_kind,
                order_no=ours.order_no,
                local_amount=ours.amount,
                channel_amount=answer.amount,
                local_status=local_status,
                channel_status=answer.status,
                detail=f"Near-real-time check: {ours.status} of {ours.amount} here; the channel {said}.",
            )
        ],
        ignore_conflicts=True,
    )


def _payment(pk: int) -> Ours | None:
    order = PaymentOrder.objects.select_related("channel").get(pk=pk)
    channel = order.channel
    if channel is None:
        return None

    def ask() -> Answer:
        status = registry.payment_adapter(channel).payment_query(order.order_no)
        return Answer(PAYMENT_STATES[status.state], status.amount)

    return Ours("payment", order.order_no, order.status, order.amount, channel, ask)


def _refund(pk: int) -> Ours | None:
    refund = Refund.objects.select_related("payment_order__channel").get(pk=pk)
    order = refund.payment_order
    channel = order.channel
    if channel is None:
        return None

    def ask() -> Answer:
        status = registry.payment_adapter(channel).refund_query(refund.refund_no, order_no=order.order_no)
        return Answer(REFUND_STATES[status.state], status.amount)

    return Ours("refund", refund.refund_no, refund.status, refund.amount, channel, ask)


def _payout(pk: int) -> Ours | None:
    withdrawal = Withdrawal.objects.select_related("channel").get(pk=pk)
    if withdrawal.dispatched_at is None:
        return None  # never sent: the channel cannot know it

    def ask() -> Answer:
        result = registry.payout_adapter(withdrawal.channel).query_payout(withdrawal.order_no)
        return Answer(PAYOUT_STATES[result.state], None)

    return Ours("payout", withdrawal.order_no, withdrawal.status, withdrawal.actual_amount, withdrawal.channel, ask)


ORDERS: dict[str, Callable[[int], Ours | None]] = {"payment": _payment, "refund": _refund, "payout": _payout}
