"""How the sandbox's bills depart from its books when it is told to (``SandboxBillRule``), so that
reconciliation meets every discrepancy it must find (docs/RECONCILIATION.md, "The sandbox's bills").

A rule changes the next bills of its protocol, kind and day, each using up one of its turns: the
line of its order number, or the first line that qualifies. The file stays well-formed: the
writers total what they write, so a summary agrees with the changed lines.
"""

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F, Q

from payments.sandbox.bill_entries import Entry, EntryKind, EntryStatus, day_bounds, entries_of
from payments.sandbox.fees import payment_fee, payout_fee
from payments.sandbox.models import BillDifference, BillKind, Protocol, SandboxBillRule
from wallet.money import CENT, ZERO

BILL_KINDS = {
    Protocol.WECHAT_V3: (BillKind.TRADE, BillKind.PAYOUT),
    Protocol.WECHAT_V2: (BillKind.TRADE, BillKind.PAYOUT),
    Protocol.ALIPAY: (BillKind.TRADE, BillKind.PAYOUT),
    Protocol.BANK: (BillKind.PAYOUT,),
}
# What a line made up for an empty bill is worth, and when in the day it happened.
EXTRA_AMOUNT = CENT * 100
EXTRA_AFTER_MIDNIGHT = timedelta(hours=12)
# The reason a line flipped to failed gives, where the format has one (the bank's fail_code).
WRONG_STATUS_CODE = "ACCOUNT_ABNORMAL"

Stage = Callable[[Iterator[Entry], SandboxBillRule, str, date], Iterator[Entry]]


class BillRuleRefused(ValueError):
    """A rule the bill cannot play: the format has no such field, or the channel no such bill."""


class BillNotPublished(Exception):
    """The bill of that day is not out yet: a day to come, or a ``not_ready`` rule."""


def bill_rule_refusal(*, protocol: str, bill_kind: str, difference: str) -> str | None:
    """Why the rule cannot be played, in words; None when it can."""
    if bill_kind not in BILL_KINDS[Protocol(protocol)]:
        return f"{Protocol(protocol).label} has no {BillKind(bill_kind).label.lower()}."
    # The WeChat fund flow and the Alipay account bill: movements of money, with no fee column.
    fund_flow = bill_kind == BillKind.PAYOUT and protocol != Protocol.BANK
    if difference == BillDifference.WRONG_STATUS and (fund_flow or protocol == Protocol.ALIPAY):
        return (
            "The Alipay trade and account bills and the WeChat fund flow have no status to get wrong: "
            "they list only money that moved."
        )
    if difference == BillDifference.WRONG_FEE and fund_flow:
        return "The WeChat fund flow and the Alipay account bill carry no fee to get wrong."
    return None


def bill_rule_add(
    *,
    protocol: str,
    bill_kind: str,
    bill_date: date,
    difference: str,
    order_no: str = "",
    remaining: int | None = None,
) -> SandboxBillRule:
    """Tell the sandbox how the next bills of ``bill_date`` differ; ``BillRuleRefused`` when the
    bill cannot play it."""
    refusal = bill_rule_refusal(protocol=protocol, bill_kind=bill_kind, difference=difference)
    if refusal is not None:
        raise BillRuleRefused(refusal)
    return SandboxBillRule.objects.create(
        protocol=protocol,
        bill_kind=bill_kind,
        bill_date=bill_date,
        difference=difference,
        order_no=order_no,
        remaining=remaining,
    )


def bill_rules_take(*, protocol: str, bill_kind: str, bill_date: date) -> list[SandboxBillRule]:
    """The rules the bill about to be served plays, each using up a turn. A ``not_ready`` rule
    goes first: it raises ``BillNotPublished`` and the others wait for a bill that is served."""
    rules = _rules_use(protocol=protocol, bill_kind=bill_kind, bill_date=bill_date)
    if any(rule.difference == BillDifference.NOT_READY for rule in rules):
        raise BillNotPublished(f"{protocol} {bill_kind} bill of {bill_date}")
    return rules


@transaction.atomic
def _rules_use(*, protocol: str, bill_kind: str, bill_date: date) -> list[SandboxBillRule]:
    """Use up a turn of the first ``not_ready`` rule if there is one (and return it alone),
    else of every rule in play (and return them)."""
    rules = list(
        SandboxBillRule.objects.select_for_update()
        .filter(protocol=protocol, bill_kind=bill_kind, bill_date=bill_date)
        .filter(Q(remaining__isnull=True) | Q(remaining__gt=0))
        .order_by("id")
    )
    used = [rule for rule in rules if rule.difference == BillDifference.NOT_READY][:1] or rules
    SandboxBillRule.objects.filter(pk__in=[rule.pk for rule in used], remaining__isnull=False).update(
        remaining=F("remaining") - 1
    )
    return used


def entries_differing(
    entries: Iterator[Entry], rules: Iterable[SandboxBillRule], *, protocol: str, bill_kind: str, bill_date: date
) -> Iterator[Entry]:
    """The day's entries as the rules have them: the day's own lines moved to the next day taken
    out first (so the next day finds the same lines in the books), then the lines the day before
    moved here put first, then the other changes in the order the rules were made."""
    moving = [rule for rule in rules if rule.difference == BillDifference.NEXT_DAY]
    others = [rule for rule in rules if rule.difference in STAGES]
    stream = entries
    for rule in moving:
        stream = _next_day(stream, rule, protocol, bill_date)
    stream = itertools.chain(_moved_in(protocol=protocol, bill_kind=bill_kind, bill_date=bill_date), stream)
    for rule in others:
        stream = STAGES[BillDifference(rule.difference)](stream, rule, protocol, bill_date)
    return stream


def _moved_in(*, protocol: str, bill_kind: str, bill_date: date) -> Iterator[Entry]:
    """The lines the day before's ``next_day`` rules moved, a second apart after midnight. Each
    such rule moves its line whether or not the day before was served yet: the first line of
    the books (or of its order number) that an earlier rule did not move."""
    previous = bill_date - timedelta(days=1)
    rules = SandboxBillRule.objects.filter(
        protocol=protocol, bill_kind=bill_kind, bill_date=previous, difference=BillDifference.NEXT_DAY
    ).order_by("id")
    moved: list[tuple[str, str]] = []
    start, _ = day_bounds(bill_date)
    for rule in rules:
        entry = next(
            (
                entry
                for entry in entries_of(protocol, bill_kind, previous, order_no=rule.order_no)
                if (entry.kind, entry.order_no) not in moved
            ),
            None,
        )
        if entry is not None:
            moved.append((entry.kind, entry.order_no))
            yield replace(entry, at=start + timedelta(seconds=len(moved)))


def _aimed_at(rule: SandboxBillRule, entry: Entry) -> bool:
    return not rule.order_no or entry.order_no == rule.order_no


def _change_first(
    entries: Iterator[Entry],
    rule: SandboxBillRule,
    change: Callable[[Entry], Iterable[Entry]],
    qualifies: Callable[[Entry], bool] = lambda entry: True,
) -> Iterator[Entry]:
    """The entries, the first the rule is aimed at (and that qualifies) replaced by ``change``'s."""
    changed = False
    for entry in entries:
        if not changed and _aimed_at(rule, entry) and qualifies(entry):
            changed = True
            yield from change(entry)
        else:
            yield entry


def _missing(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    return _change_first(entries, rule, lambda entry: ())


def _wrong_amount(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    def more(entry: Entry) -> Iterable[Entry]:
        paid = entry.payment_amount + CENT if entry.kind == EntryKind.PAYMENT else entry.payment_amount
        return (replace(entry, amount=entry.amount + CENT, payment_amount=paid),)

    return _change_first(entries, rule, more)


def _wrong_status(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    """A success said failed; a failed line is charged nothing, so its fee goes too."""

    def failed(entry: Entry) -> Iterable[Entry]:
        return (replace(entry, status=EntryStatus.FAILED, fee=ZERO, failure_code=WRONG_STATUS_CODE),)

    return _change_first(entries, rule, failed, lambda entry: entry.status == EntryStatus.SUCCESS)


def _wrong_fee(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    return _change_first(entries, rule, lambda entry: (replace(entry, fee=entry.fee + CENT),))


def _next_day(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    """Out of this day's bill; ``_moved_in`` puts it in the next day's."""
    return _change_first(entries, rule, lambda entry: ())


def _extra(entries: Iterator[Entry], rule: SandboxBillRule, protocol: str, bill_date: date) -> Iterator[Entry]:
    """A line for an order the back-office never made: the rule's order number, or the first
    line's with an ``X`` before it, modelled on the first line (or made up on an empty bill)."""
    first = None
    for entry in entries:
        yield entry
        if first is None:
            first = entry
            yield _foreign(entry, rule.order_no or f"X{entry.order_no}")
    if first is None:
        yield _foreign(_made_up(protocol, rule.bill_kind, bill_date), rule.order_no or f"X{bill_date:%Y%m%d}000001")


def _foreign(entry: Entry, order_no: str) -> Entry:
    reference = f"X{entry.reference}"
    if entry.kind != EntryKind.PAYMENT:
        return replace(entry, order_no=order_no, reference=reference, serial=0)
    return replace(
        entry,
        order_no=order_no,
        reference=reference,
        serial=0,
        payment_order_no=order_no,
        payment_reference=reference,
    )


def _made_up(protocol: str, bill_kind: str, bill_date: date) -> Entry:
    at = day_bounds(bill_date)[0] + EXTRA_AFTER_MIDNIGHT
    if bill_kind == BillKind.PAYOUT:
        fee = payout_fee(protocol=protocol, amount=EXTRA_AMOUNT)
        return Entry(
            kind=EntryKind.PAYOUT,
            order_no="",
            reference="",
            amount=EXTRA_AMOUNT,
            fee=fee,
            status=EntryStatus.SUCCESS,
            at=at,
        )
    return Entry(
        kind=EntryKind.PAYMENT,
        order_no="",
        reference="",
        amount=EXTRA_AMOUNT,
        fee=payment_fee(protocol=protocol, amount=EXTRA_AMOUNT),
        status=EntryStatus.SUCCESS,
        at=at,
        payment_amount=EXTRA_AMOUNT,
        payment_opened_at=at,
        subject="Sandbox",
        method="NATIVE",
        payer="o***sandbox",
    )


STAGES: dict[BillDifference, Stage] = {
    BillDifference.MISSING: _missing,
    BillDifference.EXTRA: _extra,
    BillDifference.WRONG_AMOUNT: _wrong_amount,
    BillDifference.WRONG_STATUS: _wrong_status,
    BillDifference.WRONG_FEE: _wrong_fee,
}
