"""Importing a bill: once per file, streamed with COPY, all or nothing, and a corrected file
superseding the current one (docs/RECONCILIATION.md, "Importing a bill")."""

from decimal import Decimal

import pytest
from django.conf import settings

from payments.channels.bills import BillKind
from payments.channels.models import Channel
from reconciliation import bills
from reconciliation.models import BillFile, BillLine

pytestmark = pytest.mark.django_db

D = Decimal
HEADER = "finished_at,order_no,payout_id,amount,fee,status,fail_code\n"


def bank_bill(tmp_path, rows: list[str], trailer: str | None = None, name: str = "bank.csv"):
    """A bank gateway bill with ``rows`` and the trailer they add up to (or ``trailer``)."""
    if trailer is None:
        amount = sum((D(row.split(",")[3]) for row in rows), D("0.00"))
        fee = sum((D(row.split(",")[4]) for row in rows), D("0.00"))
        trailer = f"TRAILER,{len(rows)},{amount:.2f},{fee:.2f}"
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows) + trailer + "\n", encoding="utf-8")
    return path


ROWS = [
    "2026-12-06T10:00:07+08:00,W20261206000002,BP0000000000000001,12.30,0.10,SUCCESS,",
    "2026-12-06T10:01:00+08:00,W20261206000003,BP0000000000000002,5.00,0.00,FAILED,CARD_INVALID",
]


def do_import(path, day="2026-12-06"):
    return bills.bill_import(
        channel=Channel.objects.get(code="bank"),
        bill_date=day,
        kind=BillKind.PAYOUT,
        path=path,
        filename=path.name,
        source=BillFile.Source.UPLOAD,
    )


def test_a_bill_is_imported_line_by_line_with_its_totals_and_kept_on_disk(tmp_path):
    imported = do_import(bank_bill(tmp_path, ROWS))

    bill = imported.file
    assert imported.created and imported.superseded is None
    assert (bill.line_count, bill.amount_total, bill.fee_total) == (2, D("17.30"), D("0.10"))
    lines = list(BillLine.objects.filter(file=bill).order_by("line_no").values_list("order_no", "status", "fee"))
    assert lines == [("W20261206000002", "success", D("0.10")), ("W20261206000003", "failed", D("0.00"))]
    assert (settings.MEDIA_ROOT / bill.file.name).read_bytes() == bank_bill(
        tmp_path, ROWS, name="again.csv"
    ).read_bytes()


def test_the_same_file_again_is_the_first_import(tmp_path):
    first = do_import(bank_bill(tmp_path, ROWS))

    again = do_import(bank_bill(tmp_path, ROWS, name="copy.csv"))

    assert (again.file.pk, again.created) == (first.file.pk, False)
    assert BillLine.objects.count() == 2


def test_a_corrected_file_supersedes_the_current_one(tmp_path):
    first = do_import(bank_bill(tmp_path, ROWS[:1]))

    corrected = do_import(bank_bill(tmp_path, ROWS, name="corrected.csv"))

    first.file.refresh_from_db()
    assert corrected.superseded == first.file
    assert (first.file.status, first.file.superseded_by) == (BillFile.Status.SUPERSEDED, corrected.file)
    assert BillFile.objects.get(status="current") == corrected.file


def test_a_malformed_file_is_refused_with_its_line_and_nothing_of_it_is_kept(tmp_path):
    # Given a current bill and a corrected file whose summary does not add up
    first = do_import(bank_bill(tmp_path, ROWS[:1]))
    broken = bank_bill(tmp_path, ROWS, trailer="TRAILER,2,99.99,0.10", name="broken.csv")

    # When it is imported
    with pytest.raises(bills.BillRefused) as refused:
        do_import(broken)

    # Then the refusal names the line, and the current bill, its lines and the disk are as before
    assert refused.value.line_no == 4
    assert refused.value.code == "bill_malformed"
    assert list(BillFile.objects.values_list("pk", "status")) == [(first.file.pk, "current")]
    assert BillLine.objects.count() == 1
    assert len(list((settings.MEDIA_ROOT / "bills").rglob("*.csv"))) == 1


def test_a_line_in_the_middle_that_breaks_the_format_names_that_line(tmp_path):
    rows = [ROWS[0], "2026-12-06T10:01:00+08:00,W20261206000003,BP2,5.0O,0.00,SUCCESS,", ROWS[1]]

    with pytest.raises(bills.BillRefused) as refused:
        do_import(bank_bill(tmp_path, rows, trailer="TRAILER,3,0.00,0.00"))

    assert refused.value.line_no == 3
    assert not BillFile.objects.exists()
