"""The lines of a day's bill as the sandbox's books have them, before any format: payments paid
and refunds succeeded that day (trade bills), payouts finished that day (payout bills), in the
order the channel booked them (docs/RECONCILIATION.md, "Bill formats").

Querysets are iterated in chunks and merged lazily, so a day of a million lines streams.
"""

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from payments.sandbox.models import BillKind, Protocol, SandboxPayment, SandboxPayout, SandboxRefund

CHINA = ZoneInfo("Asia/Shanghai")
CHUNK = 10_000
# The columns each entry is built from (rows, not model instances: a day of a million lines is
# read at the speed of the database).
PAYMENT_FIELDS = (
    "order_no", "transaction_id", "amount", "fee", "paid_at", "id",
    "created_at", "subject", "method", "payer_masked",
)  # fmt: skip
REFUND_FIELDS = (
    "refund_no", "refund_id", "amount", "fee", "finished_at", "id",
    "payment__order_no", "payment__transaction_id", "payment__amount",
    "payment__created_at", "payment__subject", "payment__method", "payment__payer_masked",
)  # fmt: skip
PAYOUT_FIELDS = ("order_no", "channel_reference", "amount", "fee", "finished_at", "id", "failure_code", "state")
PAYOUT_STATE = PAYOUT_FIELDS.index("state")


class EntryKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    PAYOUT = "payout"  # money out: a payout paid (or, in the bank's bill, failed or returned)
    PAYOUT_RETURN = "payout_return"  # money back in: a WeChat transfer given back


class EntryStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    RETURNED = "returned"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a bill. For a refund, ``payment_*`` describe the payment it gives back; for a
    payment they describe the payment itself."""

    kind: EntryKind
    order_no: str  # ours: the payment order's, the refund's or the withdrawal's number
    reference: str  # the channel's: transaction_id, refund_id or the payout's reference
    amount: Decimal
    fee: Decimal
    status: EntryStatus
    at: datetime  # when the channel booked it
    serial: int = 0  # the record's id, which numbers the line where a format needs a number
    failure_code: str = ""
    payment_order_no: str = ""
    payment_reference: str = ""
    payment_amount: Decimal = Decimal("0.00")
    payment_opened_at: datetime | None = None
    subject: str = ""
    method: str = ""
    payer: str = ""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """From 00:00:00 of ``day`` to 00:00:00 of the next, China time."""
    start = datetime.combine(day, time.min, tzinfo=CHINA)
    return start, start + timedelta(days=1)


def entries_of(protocol: str, kind: str, day: date, *, order_no: str = "") -> Iterator[Entry]:
    """The lines of the bill, in booking order; only those of ``order_no`` when given."""
    if kind == BillKind.TRADE:
        return _trade_entries(protocol, day, order_no)
    if protocol == Protocol.BANK:
        return _bank_entries(day, order_no)
    return _fund_flow_entries(protocol, day, order_no)


def _trade_entries(protocol: str, day: date, order_no: str) -> Iterator[Entry]:
    start, end = day_bounds(day)
    payments = SandboxPayment.objects.filter(
        protocol=protocol, state=SandboxPayment.State.PAID, paid_at__gte=start, paid_at__lt=end
    ).order_by("paid_at", "id")
    refunds = SandboxRefund.objects.filter(
        protocol=protocol, state=SandboxRefund.State.SUCCESS, finished_at__gte=start, finished_at__lt=end
    ).order_by("finished_at", "id")
    if order_no:
        payments, refunds = payments.filter(order_no=order_no), refunds.filter(refund_no=order_no)
    return heapq.merge(
        map(_payment_entry, payments.values_list(*PAYMENT_FIELDS).iterator(chunk_size=CHUNK)),
        map(_refund_entry, refunds.values_list(*REFUND_FIELDS).iterator(chunk_size=CHUNK)),
        key=lambda entry: entry.at,
    )


def _payouts(protocol: str, day: date, order_no: str, states: tuple[str, ...]) -> Iterator[tuple]:
    start, end = day_bounds(day)
    payouts = SandboxPayout.objects.filter(
        protocol=protocol, state__in=states, finished_at__gte=start, finished_at__lt=end
    ).order_by("finished_at", "id")
    if order_no:
        payouts = payouts.filter(order_no=order_no)
    return payouts.values_list(*PAYOUT_FIELDS).iterator(chunk_size=CHUNK)


def _bank_entries(day: date, order_no: str) -> Iterator[Entry]:
    final = (SandboxPayout.State.SUCCESS, SandboxPayout.State.FAILED, SandboxPayout.State.RETURNED)
    for payout in _payouts(Protocol.BANK, day, order_no, final):
        yield _payout_entry(payout, EntryKind.PAYOUT, EntryStatus(payout[PAYOUT_STATE]))


def _fund_flow_entries(protocol: str, day: date, order_no: str) -> Iterator[Entry]:
    """Money that moved: a payout paid is one line out; one returned, a line out and one back in."""
    moved = (SandboxPayout.State.SUCCESS, SandboxPayout.State.RETURNED)
    for payout in _payouts(protocol, day, order_no, moved):
        yield _payout_entry(payout, EntryKind.PAYOUT, EntryStatus.SUCCESS)
        if payout[PAYOUT_STATE] == SandboxPayout.State.RETURNED:
            yield _payout_entry(payout, EntryKind.PAYOUT_RETURN, EntryStatus.RETURNED)


def _payment_entry(row: tuple) -> Entry:
    order_no, transaction_id, amount, fee, paid_at, pk, created_at, subject, method, payer = row
    return Entry(
        kind=EntryKind.PAYMENT,
        order_no=order_no,
        reference=transaction_id,
        amount=amount,
        fee=fee,
        status=EntryStatus.SUCCESS,
        at=paid_at,
        serial=pk,
        payment_order_no=order_no,
        payment_reference=transaction_id,
        payment_amount=amount,
        payment_opened_at=created_at,
        subject=subject,
        method=method,
        payer=payer,
    )


def _refund_entry(row: tuple) -> Entry:
    refund_no, refund_id, amount, fee, finished_at, pk, order_no, transaction_id, paid, opened_at, *facts = row
    subject, method, payer = facts
    return Entry(
        kind=EntryKind.REFUND,
        order_no=refund_no,
        reference=refund_id,
        amount=amount,
        fee=fee,
        status=EntryStatus.SUCCESS,
        at=finished_at,
        serial=pk,
        payment_order_no=order_no,
        payment_reference=transaction_id,
        payment_amount=paid,
        payment_opened_at=opened_at,
        subject=subject,
        method=method,
        payer=payer,
    )


def _payout_entry(row: tuple, kind: EntryKind, status: EntryStatus) -> Entry:
    order_no, reference, amount, fee, finished_at, pk, failure_code, _state = row
    return Entry(
        kind=kind,
        order_no=order_no,
        reference=reference,
        amount=amount,
        fee=fee,
        status=status,
        at=finished_at,
        serial=pk,
        failure_code=failure_code,
    )
