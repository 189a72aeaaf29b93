"""The bank gateway's bill as the sandbox writes it (docs/RECONCILIATION.md, "Bank payout gateway
bill"): plain UTF-8 CSV, one line per payout finished that day, and a trailer with the count and
the sums of amount and fee of the lines written."""

from collections.abc import Iterable

from payments.sandbox.bill_csv import CsvSink, Writable, money
from payments.sandbox.bill_entries import CHINA, Entry, EntryStatus
from wallet.money import ZERO

HEADER = ("finished_at", "order_no", "payout_id", "amount", "fee", "status", "fail_code")
STATUS = {EntryStatus.SUCCESS: "SUCCESS", EntryStatus.FAILED: "FAILED", EntryStatus.RETURNED: "RETURNED"}
# The fail_code of a payout the payee's bank returned (the gateway's answers say the same).
RETURNED_CODE = "BANK_RETURNED"


def bank_bill_write(entries: Iterable[Entry], out: Writable) -> None:
    sink = CsvSink(out, line_end="\n")
    sink.row(HEADER)
    lines, amounts, fees = 0, ZERO, ZERO
    for entry in entries:
        fail_code = {EntryStatus.FAILED: entry.failure_code, EntryStatus.RETURNED: RETURNED_CODE}.get(entry.status, "")
        sink.row(
            (
                entry.at.astimezone(CHINA).isoformat(timespec="seconds"),
                entry.order_no,
                entry.reference,
                money(entry.amount),
                money(entry.fee),
                STATUS[entry.status],
                fail_code,
            )
        )
        lines, amounts, fees = lines + 1, amounts + entry.amount, fees + entry.fee
    sink.row(("TRAILER", str(lines), money(amounts), money(fees)))
    sink.flush()
