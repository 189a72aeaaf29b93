"""Booking a bill's channel fees, and checking the clearing account against the bills
(docs/RECONCILIATION.md, "Fees and the clearing check").

The channel keeps its fees out of what it settles to us, so what it owes us (the clearing
account, which runs negative for money the channel holds) shrinks by them. A bill's fees are
booked as one transfer per channel, day and kind, ``clearing:<channel>`` -> ``expense:fees:<channel>``:
posting per line would cost a million ledger transactions a day, and the lines keep their fees
(``BillLine.fee``), so the transfer is traced to them through its reference ``bill:<file id>``.
A corrected bill books only the difference to what its day already booked.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from reconciliation.models import BillFile, FeeBooking
from wallet import services as ledger
from wallet.models import Account
from wallet.money import ZERO

FEE_TRANSFER_KIND = "channel_fee"

# What each line does to the clearing account, when the ledger follows the channel: money the
# channel collected for us (-), refunded or paid out from our money at the channel (+), a payout
# given back (-); and the fee the channel kept (+).
BILL_MOVEMENT = """
SELECT coalesce(sum(CASE
         WHEN l.kind = 'payment' AND l.status = 'success' THEN -l.amount
         WHEN l.kind IN ('refund', 'payout') AND l.status = 'success' THEN l.amount
         WHEN l.kind = 'payout' AND l.status = 'returned' THEN -l.amount
         ELSE 0 END), 0)
  FROM reconciliation_billline l JOIN reconciliation_billfile f ON f.id = l.file_id
 WHERE f.channel_id = %(channel)s AND f.status = 'current'
"""
# The clearing account's movements over the days the current bills cover, fees aside (they are
# posted after the day; FeeBooking counts them).
LEDGER_MOVEMENT = """
SELECT coalesce(sum(e.amount), 0)
  FROM wallet_entry e JOIN wallet_transfer t ON t.id = e.transfer_id
 WHERE e.account_id = %(account)s AND e.created_at >= %(start)s AND e.created_at < %(end)s
   AND t.kind <> %(fee_kind)s
"""


def clearing_account(channel) -> Account:
    return ledger.account_for_system(code=f"clearing:{channel.code}")


def fees_book(bill: BillFile) -> Decimal:
    """Book what ``bill``'s fees add to what its channel, day and kind already booked; the amount
    booked (zero when nothing changed). Idempotent per bill."""
    if booked := FeeBooking.objects.filter(file=bill).first():
        return booked.amount
    earlier = (
        FeeBooking.objects.filter(channel=bill.channel, bill_date=bill.bill_date, kind=bill.kind).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    difference = bill.fee_total - earlier
    transfer = None
    if difference != ZERO:
        code = bill.channel.code
        transfer = ledger.transfer_post(
            idempotency_key=f"recon:fees:{code}:{bill.bill_date}:{bill.kind}:{bill.pk}",
            kind=FEE_TRANSFER_KIND,
            legs=[
                ledger.Leg(clearing_account(bill.channel), difference),
                ledger.Leg(ledger.account_for_system(code=f"expense:fees:{code}"), -difference),
            ],
            memo=f"{code} {bill.kind} fees of {bill.bill_date} ({bill.line_count} lines)",
            reference=f"bill:{bill.pk}",
        )
    FeeBooking.objects.create(
        channel=bill.channel,
        bill_date=bill.bill_date,
        kind=bill.kind,
        file=bill,
        amount=difference,
        transfer_id=transfer.pk if transfer else None,
    )
    return difference


@dataclass(frozen=True)
class ClearingCheck:
    balance: Decimal  # the clearing account's movements over the billed days, plus the fees booked
    expected: Decimal  # what the channel's current bills say those movements are
    difference: Decimal  # balance - expected: one-sided and mismatched items, or an error


def clearing_check(channel, window_start, window_end) -> ClearingCheck:
    """The clearing account against every current bill of ``channel``: from the first billed
    day's start to the last one's end, the ledger must have moved what the bills say, fees
    included. A difference is explained by the pool and the open discrepancies, or is a fault."""
    account = clearing_account(channel)
    params = {
        "channel": channel.pk,
        "account": account.pk,
        "start": window_start,
        "end": window_end,
        "fee_kind": FEE_TRANSFER_KIND,
    }
    with connection.cursor() as cursor:
        cursor.execute(BILL_MOVEMENT, params)
        (bills,) = cursor.fetchone()
        cursor.execute(LEDGER_MOVEMENT, params)
        (movements,) = cursor.fetchone()
    fees = FeeBooking.objects.filter(channel=channel).aggregate(total=Sum("amount"))["total"] or ZERO
    bill_fees = (
        BillFile.objects.filter(channel=channel, status=BillFile.Status.CURRENT).aggregate(total=Sum("fee_total"))[
            "total"
        ]
        or ZERO
    )
    balance = movements + fees
    expected = bills + bill_fees
    return ClearingCheck(balance=balance, expected=expected, difference=balance - expected)
