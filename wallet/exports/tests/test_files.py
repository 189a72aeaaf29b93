"""The files an auditor gets: typed XLSX cells on a named sheet with the header frozen, UTF-8 CSV
with a byte order mark, exactly the rows of the changelist's filters, and a record of each export."""

import io
import re

import openpyxl
import pytest
from django.utils import timezone

from wallet.exports.models import ExportJob, ExportJobStatus
from wallet.exports.tests.sheets import export_table
from wallet.exports.tests.support import export
from wallet.models import Entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(staff_in):
    return staff_in("auditor", "audrey")


def workbook(response):
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.getvalue()))


def columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def test_an_entry_export_has_numbers_as_numbers_local_times_and_usernames_on_a_named_frozen_sheet(
    payments, auditor, client_for
):
    alice = payments["alice"]
    entry = Entry.objects.get(account=alice, transfer__idempotency_key="pay:1")

    book = workbook(export(client_for(auditor), "entry", "xlsx", f"account_code={alice.code}&q=pay:1"))

    assert book.sheetnames == ["Entries"]
    sheet = book["Entries"]
    assert sheet.freeze_panes == "A2"
    column = columns(sheet)
    row = {name: sheet.cell(row=2, column=index) for name, index in column.items()}
    assert sheet.max_row == 2
    assert (row["id"].data_type, row["id"].value) == ("n", entry.pk)
    assert (row["transfer_id"].data_type, row["transfer_id"].value) == ("n", entry.transfer_id)
    for money in ("amount", "balance_after"):
        assert (row[money].data_type, row[money].number_format) == ("n", "#,##0.00")
    assert (row["amount"].value, row["balance_after"].value) == (-1234.5, 765.5)
    assert row["created_at"].is_date
    assert row["created_at"].value == timezone.localtime(entry.created_at).replace(tzinfo=None, microsecond=0)
    assert (row["account"].value, row["username"].value, row["account_kind"].value) == (alice.code, "alice", "user")
    assert row["memo"].value == "午饭 1"


def test_a_csv_export_is_utf8_with_a_byte_order_mark_so_excel_reads_chinese(payments, auditor, client_for):
    response = export(client_for(auditor), "entry", "csv", f"account_code={payments['bob'].code}")

    content = response.getvalue()
    assert content.startswith(b"\xef\xbb\xbf")
    _, rows = export_table(content, "csv")
    assert sorted((row["memo"], row["amount"], row["username"]) for row in rows if row["memo"]) == [
        ("午饭 1", "1234.50", "bob"),
        ("午饭 2", "2.00", "bob"),
        ("午饭 3", "3.25", "bob"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["created_at"]) for row in rows)


def test_a_transfer_export_is_on_a_sheet_named_transfers_with_integer_ids(payments, auditor, client_for):
    book = workbook(export(client_for(auditor), "transfer", "xlsx", "kind__exact=p2p"))

    sheet = book["Transfers"]
    ids = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert len(ids) == 3
    assert {cell.data_type for cell in ids} == {"n"}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_export_keeps_the_changelists_filter_search_and_ordering_and_is_recorded(
    payments, auditor, client_for, file_format
):
    bob = payments["bob"]
    query = f"account_code={bob.code}&q=pay:2&o=1"

    response = export(client_for(auditor), "entry", file_format, query)

    _, rows = export_table(response.getvalue(), file_format)
    expected = Entry.objects.get(account=bob, transfer__idempotency_key="pay:2")
    assert [(row["id"], row["amount"]) for row in rows] == [(str(expected.pk), "2.00")]
    job = ExportJob.objects.get()
    assert (job.requested_by, job.content_type.model, job.file_format) == (auditor, "entry", file_format)
    assert (job.status, job.rows_total, job.rows_written) == (ExportJobStatus.DONE, 1, 1)
    assert dict(item.split("=", 1) for item in job.query_string.split("&")) == {
        "account_code": bob.code.replace(":", "%3A"),
        "q": "pay%3A2",
        "o": "1",
    }


def test_rows_come_in_the_changelists_order(payments, auditor, client_for):
    alice = payments["alice"]
    newest_first = list(Entry.objects.filter(account=alice).order_by("-created_at", "-id").values_list("pk", flat=True))

    response = export(client_for(auditor), "entry", "csv", f"account_code={alice.code}")

    _, rows = export_table(response.getvalue(), "csv")
    assert [int(row["id"]) for row in rows] == newest_first
