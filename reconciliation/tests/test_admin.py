"""The reconciliation desk in the admin: runs and their re-run, stored bills served only to who may
see them, the bill upload, the discrepancy queue and its steps with four eyes on money, read-only
rows and exports for auditors."""

import hashlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.tests.staff import otp_login
from payments.channels.models import Channel
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from payments.withdrawals.tests.test_admin import messages_of, queue_rows, rows_of
from reconciliation import desk, services
from reconciliation.admin import elapsed
from reconciliation.models import (
    BillFile,
    BillLine,
    Discrepancy,
    DiscrepancyTransition,
    FeeBooking,
    PoolItem,
    Run,
)
from reconciliation.resources import DiscrepancyResource, DiscrepancyTransitionResource, RunResource
from reconciliation.tests.admin_support import export, export_link, readonly, trade_bill, url
from reconciliation.tests.support import at, payment_line
from wallet import services as ledger
from wallet.models import Transfer
from wallet.selectors import account_balance

pytestmark = pytest.mark.django_db

D = Decimal
GROUPS = ["finance_reviewer", "finance_supervisor", "auditor", "operations"]
NO_WORK = "You may not work on discrepancies."
FOUR_EYES = "Another person must approve what you proposed (four eyes)."
SUPERVISORS_ONLY = "Only a finance supervisor approves a step that moves money."
BUTTONS = ("investigate-button", "requery-button", "propose-button", "resolve-button", "ignore-button")


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def user_in(staff_in, superuser):
    """A staff user of the named group, or the superuser."""

    def make(who: str, username: str | None = None):
        return superuser if who == "superuser" else staff_in(who, username)

    return make


@pytest.fixture
def reviewer(staff_in):
    return staff_in("finance_reviewer", "reviewer1")


@pytest.fixture
def as_user(user_in, client_for):
    """A logged-in client of a fresh user of the named group (or the superuser)."""

    def make(who: str) -> Client:
        return client_for(user_in(who))

    return make


@pytest.fixture
def stored_bill(settings, tmp_path) -> Callable[..., BillFile]:
    """A current bill whose file is really stored (under this test's MEDIA_ROOT)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    numbers = count(1)

    def make(day: date, *, channel: str = "wechat_pay", kind: str = "trade", content: bytes | None = None) -> BillFile:
        content = content if content is not None else f"bill {next(numbers)}\n".encode()
        bill = BillFile(
            channel=Channel.objects.get(code=channel),
            bill_date=day,
            kind=kind,
            sha256=hashlib.sha256(content).hexdigest(),
            filename=f"{channel}-{day}.csv",
            size=len(content),
            source=BillFile.Source.DOWNLOAD,
            line_count=0,
            amount_total=D("0.00"),
            fee_total=D("0.00"),
        )
        bill.file.save(f"{channel}-{day}-{kind}.csv", ContentFile(content))
        return bill

    return make


@pytest.fixture
def make_run() -> Callable[..., Run]:
    def make(day: date, *, channel: str = "wechat_pay", kind: str = "trade", **fields) -> Run:
        return Run.objects.create(channel=Channel.objects.get(code=channel), bill_date=day, kind=kind, **fields)

    return make


@pytest.fixture
def make_discrepancy() -> Callable[..., Discrepancy]:
    numbers = count(1)

    def make(day: date, *, channel: str | None = "wechat_pay", **fields) -> Discrepancy:
        values = {
            "kind": "amount_mismatch",
            "object_kind": "payment",
            "order_no": f"PO-MISSING-{next(numbers)}",
            "local_amount": D("10.00"),
            "channel_amount": D("12.00"),
            "local_status": "success",
            "channel_status": "success",
            **fields,
        }
        row = Channel.objects.get(code=channel) if channel else None
        return Discrepancy.objects.create(channel=row, bill_date=day, **values)

    return make


def finished_run(make_run, day, **fields) -> Run:
    """A succeeded run that took 75 seconds."""
    run = make_run(day, status=Run.Status.SUCCEEDED, **fields)
    Run.objects.filter(pk=run.pk).update(finished_at=run.started_at + timedelta(seconds=75))
    run.refresh_from_db()
    return run


def failed_run(make_run, day, **fields) -> Run:
    run = make_run(day, status=Run.Status.FAILED, error="download: the channel did not answer", **fields)
    Run.objects.filter(pk=run.pk).update(finished_at=run.started_at)
    return run


COUNTS = {
    "bill_lines": 5,
    "bill_amount": D("500.00"),
    "local_records": 4,
    "local_amount": D("400.00"),
    "matched": 3,
    "local_only": 1,
    "channel_only": 2,
    "amount_mismatch": 0,
    "status_mismatch": 1,
    "fee_mismatch": 0,
    "pooled": 1,
    "pool_settled": 2,
    "fees_booked": D("3.00"),
    "clearing_balance": D("-397.00"),
    "clearing_expected": D("-497.00"),
    "clearing_difference": D("100.00"),
}


# 1. Runs


def test_the_run_page_shows_what_was_compared_found_and_booked(make_run, stored_bill, today, reviewer, client_for):
    # Given a finished run of a stored bill
    bill = stored_bill(today)
    run = finished_run(make_run, today, file=bill, **COUNTS)

    # When a reviewer opens its page
    page = client_for(reviewer).get(url("run", "change", run.pk))

    # Then every count, amount and the clearing check are shown, with the duration and the file
    shown = {field: readonly(page, field) for field in COUNTS}
    assert shown == {
        field: f"{value:.2f}" if isinstance(value, Decimal) else str(value) for field, value in COUNTS.items()
    }
    assert readonly(page, "duration_display") == "1 min 15 s"
    assert readonly(page, "status") == "Succeeded"
    assert readonly(page, "bill_file_link") == f"{bill.filename} ( download )"
    content = page.content.decode()
    assert f'href="{url("billfile", "change", bill.pk)}"' in content
    assert f'href="{url("billfile", "download", bill.pk)}"' in content
    assert f'href="{url("discrepancy", "changelist")}?run__id__exact={run.pk}"' in content
    assert "field-error" not in content
    assert 'id="rerun-button"' not in content


def test_the_run_list_shows_each_run_with_its_counts_and_filters_by_status_channel_and_day(
    make_run, today, reviewer, client_for
):
    client = client_for(reviewer)
    yesterday = today - timedelta(days=1)
    succeeded = finished_run(make_run, yesterday, **COUNTS)
    failed = failed_run(make_run, today, channel="bank", kind="payout")

    rows = queue_rows(client.get(url("run", "changelist")))
    only_failed = queue_rows(client.get(url("run", "changelist"), {"status__exact": "failed"}))
    only_bank = queue_rows(client.get(url("run", "changelist"), {"channel__id__exact": failed.channel_id}))
    only_yesterday = queue_rows(
        client.get(url("run", "changelist"), {"bill_date_from": yesterday, "bill_date_to": yesterday})
    )

    assert [(row["channel"], row["kind"], row["status"]) for row in rows] == [
        ("bank", "Payout", "Failed"),
        ("wechat_pay", "Trade", "Succeeded"),
    ]
    row = {r["channel"]: r for r in rows}["wechat_pay"]
    assert (row["bill_lines"], row["bill_amount"], row["local_records"], row["local_amount"]) == (
        "5",
        "500.00",
        "4",
        "400.00",
    )
    assert row["matched"] == "3"
    assert row["discrepancy_counts"] == "local only 1, channel only 2, status mismatch 1"
    assert (row["pooled"], row["pool_settled"], row["fees_booked"]) == ("1", "2", "3.00")
    assert row["clearing_difference"] == "100.00"
    assert row["duration_display"] == "1 min 15 s"
    assert [r["channel"] for r in only_failed] == ["bank"]
    assert [r["channel"] for r in only_bank] == ["bank"]
    assert [r["channel"] for r in only_yesterday] == [succeeded.channel.code]


@pytest.fixture
def failed_with_bill(bill, paid_order, make_run, today):
    """A failed run of today's WeChat Pay trade bill, which is now there with one paid order."""
    order = paid_order("100.00", paid_at=at(today, "10:00"))
    bill(today, [payment_line(order)])
    return failed_run(make_run, today)


@pytest.mark.parametrize("group", ["operations", "finance_reviewer", "finance_supervisor"])
def test_staff_who_may_rerun_see_the_error_and_the_button_of_a_failed_run(failed_with_bill, as_user, group):
    page = as_user(group).get(url("run", "change", failed_with_bill.pk))

    assert readonly(page, "error") == "download: the channel did not answer"
    assert 'id="rerun-button"' in page.content.decode()
    assert f'action="{url("run", "rerun", failed_with_bill.pk)}"' in page.content.decode()


def test_operations_rerun_a_failed_run_and_are_shown_what_it_found(failed_with_bill, staff_in, client_for, today):
    operator = staff_in("operations")

    # When operations press "Re-run" on the failed run
    response = client_for(operator).post(url("run", "rerun", failed_with_bill.pk))

    # Then a new run matched the bill, and they are taken to it with its outcome
    fresh = Run.objects.exclude(pk=failed_with_bill.pk).get()
    assert (fresh.status, fresh.matched, fresh.bill_lines, fresh.started_by) == ("succeeded", 1, 1, operator)
    assert (response.status_code, response["Location"]) == (302, url("run", "change", fresh.pk))
    assert messages_of(response) == [
        ("success", f"wechat_pay trade {today}: 1 bill line(s), 1 matched, 0 discrepancy(ies).")
    ]
    assert Run.objects.get(pk=failed_with_bill.pk).status == Run.Status.FAILED


def test_the_rerun_action_reruns_the_failed_runs_ticked_and_names_the_others(
    failed_with_bill, make_run, today, as_user
):
    succeeded = finished_run(make_run, today - timedelta(days=1))

    response = as_user("operations").post(
        url("run", "changelist"),
        {"action": "rerun_selected", "index": "0", "_selected_action": [failed_with_bill.pk, succeeded.pk]},
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", f"{succeeded}: Only a failed run can be re-run; this one is succeeded."),
        ("success", f"{failed_with_bill}: 1 bill line(s), 1 matched, 0 discrepancy(ies)."),
    ]
    assert Run.objects.count() == 3


def test_rerunning_a_run_that_did_not_fail_is_refused_and_starts_nothing(make_run, today, as_user):
    run = finished_run(make_run, today)
    client = as_user("operations")

    page = client.get(url("run", "change", run.pk)).content.decode()
    response = client.post(url("run", "rerun", run.pk))

    assert 'id="rerun-button"' not in page
    assert messages_of(response) == [("error", f"{run}: Only a failed run can be re-run; this one is succeeded.")]
    assert Run.objects.count() == 1


def test_an_auditor_gets_no_rerun_button_and_their_rerun_is_refused(failed_with_bill, as_user):
    client = as_user("auditor")

    page = client.get(url("run", "change", failed_with_bill.pk))
    response = client.post(url("run", "rerun", failed_with_bill.pk))
    listed = client.get(url("run", "changelist")).content.decode()

    assert page.status_code == 200
    assert 'id="rerun-button"' not in page.content.decode()
    assert (response.status_code, response["Location"]) == (302, url("run", "change", failed_with_bill.pk))
    assert messages_of(response) == [("error", "You may not re-run reconciliations.")]
    assert 'value="rerun_selected"' not in listed
    assert Run.objects.count() == 1


def test_the_rerun_url_accepts_only_post(failed_with_bill, as_user):
    assert as_user("operations").get(url("run", "rerun", failed_with_bill.pk)).status_code == 405
    assert Run.objects.count() == 1


# 2. Stored bills


@pytest.mark.parametrize("who", ["finance_reviewer", "finance_supervisor", "auditor", "superuser"])
def test_staff_who_may_see_bills_download_the_stored_file(stored_bill, today, as_user, who):
    bill = stored_bill(today, content=b"the channel's bytes\r\n")

    response = as_user(who).get(url("billfile", "download", bill.pk))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"the channel's bytes\r\n"
    assert response["Content-Disposition"] == f'attachment; filename="{bill.filename}"'


def test_operations_see_the_runs_file_by_name_but_cannot_download_it(stored_bill, make_run, today, as_user):
    bill = stored_bill(today)
    run = finished_run(make_run, today, file=bill)
    client = as_user("operations")

    page = client.get(url("run", "change", run.pk))

    assert readonly(page, "bill_file_name") == bill.filename
    assert url("billfile", "download", bill.pk) not in page.content.decode()
    assert client.get(url("billfile", "download", bill.pk)).status_code == 403
    assert client.get(url("billfile", "change", bill.pk)).status_code == 403


def test_staff_without_a_role_and_customers_cannot_download_a_bill(stored_bill, today, make_user, client_for):
    bill = stored_bill(today)

    assert client_for(make_user("nogroup", is_staff=True)).get(url("billfile", "download", bill.pk)).status_code == 403
    customer = client_for(make_user("customer")).get(url("billfile", "download", bill.pk))
    assert customer.status_code == 302
    assert customer["Location"].startswith("/admin/login/")


def test_the_bill_pages_link_the_download_view_never_the_stored_path(stored_bill, make_run, today, as_user):
    bill = stored_bill(today)
    finished_run(make_run, today, file=bill)
    client = as_user("auditor")

    pages = {
        "list": client.get(url("billfile", "changelist")),
        "page": client.get(url("billfile", "change", bill.pk)),
        "run": client.get(url("run", "change", Run.objects.get().pk)),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert bill.file.name not in response.content.decode(), name
    assert readonly(pages["page"], "download") == f"{bill.filename} ({bill.size} bytes)"
    (row,) = queue_rows(pages["list"])
    assert (row["channel"], row["kind"], row["source"], row["status"]) == (
        "wechat_pay",
        "Trade",
        "Downloaded from the channel",
        "Current",
    )
    assert (row["line_count"], row["amount_total"], row["fee_total"], row["sha256"]) == (
        "0",
        "0.00",
        "0.00",
        bill.sha256,
    )


def test_a_superseded_bill_links_the_file_that_replaced_it(stored_bill, today, as_user):
    old = stored_bill(today)
    BillFile.objects.filter(pk=old.pk).update(status=BillFile.Status.SUPERSEDED)
    new = stored_bill(today, content=b"corrected\n")
    BillFile.objects.filter(pk=old.pk).update(superseded_by=new)

    page = as_user("finance_reviewer").get(url("billfile", "change", old.pk))

    assert readonly(page, "superseded_by_link") == new.filename
    assert f'href="{url("billfile", "change", new.pk)}"' in page.content.decode()


# 3. Uploading a bill


def upload(client: Client, content: bytes, *, day, channel: str = "wechat_pay", kind: str = "trade"):
    return client.post(
        url("billfile", "upload"),
        {
            "channel": Channel.objects.get(code=channel).pk,
            "bill_date": day.isoformat(),
            "kind": kind,
            "file": SimpleUploadedFile("wechat-trade.csv", content, content_type="text/csv"),
        },
    )


def stored_files() -> list[Path]:
    return [path for path in Path(django_settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_a_reviewer_uploads_a_bill_and_is_taken_to_its_run(paid_order, today, reviewer, client_for, settings, tmp_path):
    # Given a paid order and the channel's bill of the day, downloaded from its portal
    settings.MEDIA_ROOT = tmp_path / "media"
    order = paid_order("100.00", paid_at=at(today, "10:00"))
    content = trade_bill(today, [(order.order_no, "100.00", "0.60")])

    # When a reviewer uploads it
    response = upload(client_for(reviewer), content, day=today)

    # Then it is stored, matched at once, and the reviewer lands on the run
    bill = BillFile.objects.get()
    run = Run.objects.get()
    assert (response.status_code, response["Location"]) == (302, url("run", "change", run.pk))
    assert messages_of(response) == [
        ("success", f"wechat_pay trade {today}: 1 bill line(s), 1 matched, 0 discrepancy(ies).")
    ]
    assert (bill.source, bill.uploaded_by, bill.filename, bill.line_count) == (
        "upload",
        reviewer,
        "wechat-trade.csv",
        1,
    )
    assert (bill.amount_total, bill.fee_total) == (D("100.00"), D("0.60"))
    assert bill.file.read() == content
    assert (run.file, run.status, run.matched, run.started_by) == (bill, "succeeded", 1, reviewer)


@pytest.mark.parametrize(
    ("payments", "summary_count", "line"),
    [([("PO1", "12.3", "0.07")], None, 2), ([("PO1", "12.30", "0.07")], 2, 4)],
    ids=["detail line", "summary"],
)
def test_a_malformed_bill_is_refused_with_its_line_number_and_nothing_is_kept(
    today, reviewer, client_for, settings, tmp_path, payments, summary_count, line
):
    settings.MEDIA_ROOT = tmp_path / "media"
    content = trade_bill(today, payments, summary_count=summary_count)

    response = upload(client_for(reviewer), content, day=today)

    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1
    assert errors[0].startswith(f"The bill is malformed at line {line}: ")
    assert f"The bill is malformed at line {line}: " in response.content.decode()
    assert (BillFile.objects.count(), BillLine.objects.count(), Run.objects.count()) == (0, 0, 0)
    assert stored_files() == []


def test_the_upload_offers_only_enabled_channels_that_have_bills_and_refuses_a_kind_they_lack(
    today, reviewer, client_for
):
    client = client_for(reviewer)

    page = client.get(url("billfile", "upload")).content.decode()
    wrong_kind = upload(client, trade_bill(today, []), day=today, kind="payout")

    select = re.search(r'<select name="channel".*?</select>', page, re.S)
    assert select is not None
    offered = set(re.findall(r'<option value="\d+"[^>]*>([^<]*)</option>', select.group(0)))
    expected = {
        f"{channel.code} ({', '.join(services.channel_kinds(channel))})"
        for channel in Channel.objects.filter(enabled=True)
        if services.channel_kinds(channel)
    }
    assert offered == expected
    assert {"wechat_pay (trade)", "bank (payout)"} <= offered
    assert not [label for label in offered if label.startswith(("wechat_v2 ", "wechat_v2_pay "))]
    assert wrong_kind.status_code == 200
    assert wrong_kind.context["form"].errors["kind"] == ["wechat_pay has no payout bill."]
    assert BillFile.objects.count() == 0


def test_the_upload_link_is_offered_to_finance_staff_only(as_user):
    reviewer_list = as_user("finance_reviewer").get(url("billfile", "changelist")).content.decode()
    auditor = as_user("auditor")
    auditor_list = auditor.get(url("billfile", "changelist")).content.decode()

    assert f'href="{url("billfile", "upload")}"' in reviewer_list
    assert "Upload a bill" in reviewer_list
    assert url("billfile", "upload") not in auditor_list
    assert auditor.get(url("billfile", "upload")).status_code == 403
    assert as_user("operations").get(url("billfile", "upload")).status_code == 403


@pytest.mark.parametrize("group", ["auditor", "operations"])
def test_staff_who_may_not_upload_are_refused_and_nothing_is_kept(today, as_user, group):
    response = upload(as_user(group), trade_bill(today, [("PO1", "1.00", "0.01")]), day=today)

    assert response.status_code == 403
    assert (BillFile.objects.count(), Run.objects.count()) == (0, 0)


# 4. The discrepancy queue


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=4.25), "4.2 s"),
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=14, seconds=3), "14 min 3 s"),
        (timedelta(hours=2, minutes=14, seconds=59), "2 h 14 min"),
        (timedelta(hours=2, seconds=30), "2 h"),
        (timedelta(days=3, hours=2, minutes=5), "3 d 2 h"),
    ],
)
def test_ages_and_durations_read_as_the_two_largest_units(delta, shown):
    assert elapsed(delta) == shown


def test_the_queue_lists_open_discrepancies_oldest_first_then_those_investigated_then_the_closed(
    make_discrepancy, today, reviewer, client_for
):
    now = timezone.now()
    created = {
        "closed": now - timedelta(days=3),
        "investigating": now - timedelta(days=2),
        "open_new": now - timedelta(minutes=5),
        "open_old": now - timedelta(hours=2, minutes=14, seconds=5),
    }
    rows = {}
    for name, when in created.items():
        status = {"closed": "ignored", "investigating": "investigating"}.get(name, "open")
        rows[name] = make_discrepancy(today, status=status)
        Discrepancy.objects.filter(pk=rows[name].pk).update(created_at=when)

    listed = queue_rows(client_for(reviewer).get(url("discrepancy", "changelist")))

    assert [row["id"] for row in listed] == [
        str(rows[name].pk) for name in ("open_old", "open_new", "investigating", "closed")
    ]
    first = listed[0]
    assert first["age"] == "2 h 14 min"
    assert (first["kind"], first["channel"], first["object_kind"], first["order_link"]) == (
        "Amounts differ",
        "wechat_pay",
        "payment",
        rows["open_old"].order_no,
    )
    assert (first["local_amount"], first["channel_amount"], first["local_status"], first["channel_status"]) == (
        "10.00",
        "12.00",
        "success",
        "success",
    )
    assert (first["status"], first["proposal"], first["approved_by"]) == ("Open", "-", "-")


def test_the_queue_filters_by_status_kind_channel_and_day(make_discrepancy, today, reviewer, client_for):
    yesterday = today - timedelta(days=1)
    fee = make_discrepancy(today, kind="fee_mismatch")
    bank = make_discrepancy(yesterday, channel="bank", object_kind="payout", status="investigating")
    client = client_for(reviewer)

    def ids(**query) -> list[str]:
        return [row["id"] for row in queue_rows(client.get(url("discrepancy", "changelist"), query))]

    assert ids(status__exact="investigating") == [str(bank.pk)]
    assert ids(kind__exact="fee_mismatch") == [str(fee.pk)]
    assert ids(channel__id__exact=bank.channel_id) == [str(bank.pk)]
    assert ids(bill_date_from=today, bill_date_to=today) == [str(fee.pk)]


def test_the_queue_links_each_order_to_its_page_in_one_query_for_the_whole_page(
    make_discrepancy, paid_order, withdrawal_in, today, reviewer, client_for
):
    order = paid_order("20.00", paid_at=at(today, "09:00"))
    withdrawal = withdrawal_in("success")
    make_discrepancy(today, order_no=order.order_no)
    make_discrepancy(today, channel="bank", object_kind="payout", order_no=withdrawal.order_no)
    client = client_for(reviewer)
    with CaptureQueriesContext(connection) as two:
        page = client.get(url("discrepancy", "changelist")).content.decode()
    for _ in range(4):
        make_discrepancy(today, order_no=paid_order("1.00", paid_at=at(today, "09:30")).order_no)

    with CaptureQueriesContext(connection) as six:
        rows = queue_rows(client.get(url("discrepancy", "changelist")))

    assert f'href="{reverse("admin:payments_paymentorder_change", args=[order.pk])}"' in page
    assert f'href="{reverse("admin:payments_withdrawal_change", args=[withdrawal.pk])}"' in page
    assert len(rows) == 6
    assert len(six.captured_queries) == len(two.captured_queries)


def test_the_discrepancy_page_links_the_order_and_an_order_we_do_not_have_is_plain_text(
    make_discrepancy, withdrawal_in, today, reviewer, client_for
):
    withdrawal = withdrawal_in("success")
    ours = make_discrepancy(today, channel="bank", object_kind="payout", order_no=withdrawal.order_no)
    theirs = make_discrepancy(today, kind="channel_only", order_no="PO-NOT-OURS")
    client = client_for(reviewer)

    ours_page = client.get(url("discrepancy", "change", ours.pk))
    theirs_page = client.get(url("discrepancy", "change", theirs.pk))

    assert readonly(ours_page, "order_link") == withdrawal.order_no
    assert f'href="{reverse("admin:payments_withdrawal_change", args=[withdrawal.pk])}"' in ours_page.content.decode()
    assert readonly(theirs_page, "order_link") == "PO-NOT-OURS"
    assert not re.search(r"/admin/payments/paymentorder/\d+/", theirs_page.content.decode())


# 5. The desk's steps


def state(discrepancy: Discrepancy) -> dict:
    """Everything a refused step must leave as it was: the row and its log."""
    row = Discrepancy.objects.values().get(pk=discrepancy.pk)
    row.pop("updated_at")
    log = list(DiscrepancyTransition.objects.filter(object_id=discrepancy.pk).values_list("transition", "by_id"))
    return {"row": row, "log": log}


def step(client: Client, discrepancy: Discrepancy, name: str, **data):
    return client.post(url("discrepancy", name, discrepancy.pk), data)


def log_of(discrepancy: Discrepancy) -> list[tuple]:
    return list(
        DiscrepancyTransition.objects.filter(object_id=discrepancy.pk)
        .order_by("timestamp", "id")
        .values_list("transition", "source_state", "state", "by__username", "description")
    )


def buttons_on(page) -> set[str]:
    content = page.content.decode()
    return {button for button in (*BUTTONS, "approve-button", "withdraw-button") if f'id="{button}"' in content}


def test_a_reviewer_sees_the_desk_steps_of_an_open_discrepancy_but_no_approval(
    make_discrepancy, today, reviewer, client_for
):
    discrepancy = make_discrepancy(today)

    page = client_for(reviewer).get(url("discrepancy", "change", discrepancy.pk))

    assert 'id="desk-panel"' in page.content.decode()
    assert buttons_on(page) == set(BUTTONS)
    for name in ("investigate", "requery", "propose"):
        assert f'action="{url("discrepancy", name, discrepancy.pk)}"' in page.content.decode()
    for name in ("resolve", "ignore"):
        assert f'formaction="{url("discrepancy", name, discrepancy.pk)}"' in page.content.decode()


def test_an_auditor_sees_the_discrepancy_and_its_log_without_any_step(make_discrepancy, today, as_user):
    discrepancy = make_discrepancy(today)

    page = as_user("auditor").get(url("discrepancy", "change", discrepancy.pk))

    assert page.status_code == 200
    assert 'id="transition-log"' in page.content.decode()
    assert buttons_on(page) == set()


@pytest.mark.parametrize("status", ["resolved", "ignored"])
def test_a_closed_discrepancy_offers_no_step(make_discrepancy, today, as_user, status):
    discrepancy = make_discrepancy(today, status=status)

    page = as_user("finance_supervisor").get(url("discrepancy", "change", discrepancy.pk))

    assert buttons_on(page) == set()


def test_a_reviewer_takes_a_discrepancy(make_discrepancy, today, reviewer, client_for):
    discrepancy = make_discrepancy(today)

    response = step(client_for(reviewer), discrepancy, "investigate")

    assert (response.status_code, response["Location"]) == (302, url("discrepancy", "change", discrepancy.pk))
    assert messages_of(response) == [("success", f"{discrepancy.order_no}: you are investigating it.")]
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == "investigating"
    assert log_of(discrepancy) == [("investigate", "open", "investigating", "reviewer1", "taken")]


def test_a_reviewer_requeries_the_channel_and_is_told_the_orders_state(
    make_discrepancy, paid_order, today, reviewer, client_for
):
    order = paid_order("30.00", paid_at=at(today, "11:00"))
    discrepancy = make_discrepancy(today, kind="fee_mismatch", order_no=order.order_no)

    response = step(client_for(reviewer), discrepancy, "requery")

    assert messages_of(response) == [
        ("success", f"{order.order_no}: re-queried at the channel; the payment is success.")
    ]
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == "investigating"


def test_requerying_an_order_we_do_not_have_shows_the_desks_error(make_discrepancy, today, reviewer, client_for):
    discrepancy = make_discrepancy(today, kind="channel_only", order_no="PO-NOT-OURS")

    response = step(client_for(reviewer), discrepancy, "requery")

    assert (response.status_code, response["Location"]) == (302, url("discrepancy", "change", discrepancy.pk))
    assert messages_of(response) == [("error", "We have no payment PO-NOT-OURS: there is nothing to re-query.")]


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "  \n "}], ids=["missing", "empty", "blank"])
@pytest.mark.parametrize("name", ["ignore", "resolve"])
def test_closing_without_a_reason_is_refused_and_changes_nothing(
    make_discrepancy, today, reviewer, client_for, name, data
):
    discrepancy = make_discrepancy(today)
    before = state(discrepancy)

    response = step(client_for(reviewer), discrepancy, name, **data)

    assert (response.status_code, response["Location"]) == (302, url("discrepancy", "change", discrepancy.pk))
    assert messages_of(response) == [("error", "Reason: This field is required.")]
    assert state(discrepancy) == before


@pytest.mark.parametrize(("name", "status"), [("ignore", "ignored"), ("resolve", "resolved")])
def test_a_reviewer_closes_a_discrepancy_with_a_reason_that_is_logged(
    make_discrepancy, today, reviewer, client_for, name, status
):
    discrepancy = make_discrepancy(today)

    response = step(client_for(reviewer), discrepancy, name, reason="  Rounding at the channel, agreed by phone.  ")

    assert (response.status_code, response["Location"]) == (302, url("discrepancy", "changelist"))
    assert messages_of(response) == [("success", f"{discrepancy.order_no}: {status}.")]
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.resolution) == (status, "Rounding at the channel, agreed by phone.")
    assert discrepancy.finished_at is not None
    assert log_of(discrepancy) == [(name, "open", status, "reviewer1", "Rounding at the channel, agreed by phone.")]


def test_a_correction_needs_an_amount_and_a_refused_proposal_changes_nothing(
    make_discrepancy, today, reviewer, client_for
):
    discrepancy = make_discrepancy(today)
    before = state(discrepancy)
    client = client_for(reviewer)

    no_amount = step(client, discrepancy, "propose", action="correction", reason="bank charge")
    no_amount_messages = messages_of(no_amount)
    no_reason = step(client, discrepancy, "propose", action="correction", amount="2.00")
    no_reason_messages = messages_of(no_reason)
    cents = step(client, discrepancy, "propose", action="correction", amount="2.001", reason="x")

    assert no_amount_messages == [("error", "A correction needs a non-zero amount in cents.")]
    assert no_reason_messages == [("error", "Reason: This field is required.")]
    assert messages_of(cents) == [("error", "Amount: Ensure that there are no more than 2 decimal places.")]
    assert state(discrepancy) == before


def test_the_proposer_withdraws_their_proposal(make_discrepancy, today, reviewer, client_for):
    discrepancy = make_discrepancy(today)
    client = client_for(reviewer)
    step(client, discrepancy, "propose", action="correction", amount="2.00", reason="bank charge")
    page = client.get(url("discrepancy", "change", discrepancy.pk))

    response = step(client, discrepancy, "withdraw")

    assert buttons_on(page) == {"withdraw-button", "requery-button"}
    assert FOUR_EYES in page.content.decode()
    assert messages_of(response) == [("success", f"{discrepancy.order_no}: the proposal is withdrawn.")]
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.proposed_action, discrepancy.proposed_by) == ("investigating", "", None)


def clearing_balance(code: str) -> Decimal:
    return account_balance(account=ledger.account_for_system(code=f"clearing:{code}"))


def test_four_eyes_a_correction_is_posted_once_by_a_second_supervisor_never_by_its_proposer(
    make_discrepancy, today, user_in, client_for
):
    # Given an amount mismatch and two supervisors and a reviewer
    discrepancy = make_discrepancy(today)
    first, second = user_in("finance_supervisor", "super1"), user_in("finance_supervisor", "super2")
    first_client, second_client = client_for(first), client_for(second)
    reviewer_client = client_for(user_in("finance_reviewer", "reviewer1"))
    key = f"recon:correction:{discrepancy.pk}"
    clearing_before = clearing_balance("wechat_pay")

    # When the first supervisor proposes a correction
    proposed = step(first_client, discrepancy, "propose", action="correction", amount="2.00", reason="bank charge")

    # Then it waits for someone else: nothing moved
    assert messages_of(proposed) == [
        ("success", f"{discrepancy.order_no}: proposed; a finance supervisor other than you approves it.")
    ]
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.proposed_action, discrepancy.proposed_amount) == (
        "investigating",
        "correction",
        D("2.00"),
    )
    assert discrepancy.proposed_by == first
    assert not Transfer.objects.filter(idempotency_key=key).exists()
    assert "approve-button" not in buttons_on(first_client.get(url("discrepancy", "change", discrepancy.pk)))
    reviewer_page = reviewer_client.get(url("discrepancy", "change", discrepancy.pk))
    assert "approve-button" not in buttons_on(reviewer_page)
    assert "A finance supervisor approves this proposal." in reviewer_page.content.decode()
    assert "approve-button" in buttons_on(second_client.get(url("discrepancy", "change", discrepancy.pk)))
    before = state(discrepancy)

    # When the proposer, then a reviewer, post the approval: refused, nothing moves
    own = step(first_client, discrepancy, "approve")
    assert messages_of(own) == [("error", FOUR_EYES)]
    by_reviewer = step(reviewer_client, discrepancy, "approve")
    assert messages_of(by_reviewer) == [("error", SUPERVISORS_ONLY)]
    assert state(discrepancy) == before
    assert not Transfer.objects.filter(idempotency_key=key).exists()

    # When the second supervisor approves, and then again (a double click)
    approved = step(second_client, discrepancy, "approve")
    approved_messages = messages_of(approved)
    again = step(second_client, discrepancy, "approve")

    # Then the correction is posted once and the discrepancy is resolved by the second supervisor
    assert (approved.status_code, approved["Location"]) == (302, url("discrepancy", "changelist"))
    assert approved_messages == [
        ("success", f"{discrepancy.order_no}: approved and resolved: bank charge (posted 2.00 to clearing:wechat_pay)")
    ]
    assert messages_of(again) == [("error", "There is no proposal waiting for approval.")]
    transfer = Transfer.objects.get(idempotency_key=key)
    assert transfer.kind == "reconciliation_correction"
    assert clearing_balance("wechat_pay") == clearing_before + D("2.00")
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.approved_by) == ("resolved", second)
    assert [(name, by) for name, _, _, by, _ in log_of(discrepancy)] == [
        ("investigate", "super1"),
        ("resolve", "super2"),
    ]


def test_applying_the_channels_truth_returns_a_payout_the_bank_failed_once_after_a_supervisor_approves(
    make_discrepancy, withdrawal_in, today, reviewer, user_in, client_for
):
    # Given a payout we booked as paid that the bank's bill says failed
    withdrawal = withdrawal_in("success")
    discrepancy = make_discrepancy(
        today,
        channel="bank",
        kind="status_mismatch",
        object_kind="payout",
        order_no=withdrawal.order_no,
        local_amount=withdrawal.actual_amount,
        channel_amount=withdrawal.actual_amount,
        channel_status="failed",
    )
    wallet_before = account_balance(account=ledger.account_for_user(user=withdrawal.user))

    # When a reviewer proposes the channel's truth and a supervisor approves it
    proposed = step(client_for(reviewer), discrepancy, "propose", action="apply_channel", reason="bank: FAILED")
    assert [level for level, _ in messages_of(proposed)] == ["success"]
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.SUCCESS
    approved = step(client_for(user_in("finance_supervisor")), discrepancy, "approve")

    # Then the payout goes back to the wallet, once
    assert messages_of(approved) == [
        (
            "success",
            f"{withdrawal.order_no}: approved and resolved: bank: FAILED (the payout is reversed to the wallet)",
        )
    ]
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == WithdrawalStatus.REFUNDED
    assert Transfer.objects.filter(idempotency_key=f"withdrawal:{withdrawal.order_no}:reversal").count() == 1
    assert account_balance(account=ledger.account_for_user(user=withdrawal.user)) == wallet_before + withdrawal.amount
    assert Discrepancy.objects.get(pk=discrepancy.pk).status == "resolved"


@pytest.mark.parametrize("name", ["investigate", "requery", "propose", "withdraw", "ignore", "resolve", "approve"])
def test_an_auditor_is_refused_every_step_and_nothing_changes(make_discrepancy, today, as_user, name):
    discrepancy = make_discrepancy(today)
    before = state(discrepancy)

    response = step(as_user("auditor"), discrepancy, name, action="correction", amount="1.00", reason="mine")

    assert (response.status_code, response["Location"]) == (302, url("discrepancy", "change", discrepancy.pk))
    assert messages_of(response) == [("error", SUPERVISORS_ONLY if name == "approve" else NO_WORK)]
    assert state(discrepancy) == before


@pytest.mark.parametrize("name", ["investigate", "ignore", "approve"])
def test_operations_and_staff_without_a_role_cannot_see_or_work_discrepancies(
    make_discrepancy, today, as_user, make_user, client_for, name
):
    discrepancy = make_discrepancy(today)
    before = state(discrepancy)

    for client in (as_user("operations"), client_for(make_user("nogroup", is_staff=True))):
        assert client.get(url("discrepancy", "change", discrepancy.pk)).status_code == 403
        assert step(client, discrepancy, name, reason="x").status_code == 403
    assert state(discrepancy) == before


def test_desk_steps_accept_only_post_with_a_csrf_token(make_discrepancy, today, reviewer):
    discrepancy = make_discrepancy(today)
    before = state(discrepancy)
    client = otp_login(Client(enforce_csrf_checks=True), reviewer)

    assert client.get(url("discrepancy", "ignore", discrepancy.pk), {"reason": "x"}).status_code == 405
    assert step(client, discrepancy, "ignore", reason="forged").status_code == 403
    assert state(discrepancy) == before


# 6. Nothing is added, changed or deleted in the admin


@pytest.fixture
def reconciliation_rows(stored_bill, make_run, make_discrepancy, today, staff_in):
    bill = stored_bill(today)
    run = finished_run(make_run, today, file=bill)
    discrepancy = make_discrepancy(today, run=run)
    desk.discrepancy_investigate(discrepancy=discrepancy, actor=staff_in("finance_reviewer"))
    pool_item = PoolItem.objects.create(
        channel=run.channel,
        kind="trade",
        object_kind="payment",
        order_no="PO-LATE",
        side="local",
        amount=D("5.00"),
        bill_date=today,
        due_date=today + timedelta(days=1),
        run=run,
    )
    booking = FeeBooking.objects.create(channel=run.channel, bill_date=today, kind="trade", file=bill, amount=D("0.00"))
    return {
        "run": run,
        "billfile": bill,
        "discrepancy": discrepancy,
        "discrepancytransition": DiscrepancyTransition.objects.get(object_id=discrepancy.pk),
        "poolitem": pool_item,
        "feebooking": booking,
    }


def everything() -> tuple:
    return tuple(
        list(model.objects.order_by("pk").values())
        for model in (Run, BillFile, Discrepancy, DiscrepancyTransition, PoolItem, FeeBooking)
    )


ALL_VIEW = {"run", "billfile", "discrepancy", "discrepancytransition", "poolitem", "feebooking"}
MAY_VIEW = {
    "finance_reviewer": ALL_VIEW,
    "finance_supervisor": ALL_VIEW,
    "auditor": ALL_VIEW,
    "operations": {"run"},
    "superuser": ALL_VIEW,
}


@pytest.mark.parametrize("who", [*GROUPS, "superuser"])
@pytest.mark.parametrize("model", sorted(ALL_VIEW))
def test_nobody_adds_changes_or_deletes_reconciliation_rows(reconciliation_rows, as_user, who, model):
    client = as_user(who)
    row = reconciliation_rows[model]
    before = everything()
    forged = {"status": "resolved", "amount": "1.00", "kind": "trade", "order_no": "X", "reason": "x"}

    add = client.post(url(model, "add"), forged)
    change_page = client.get(url(model, "change", row.pk))
    change = client.post(url(model, "change", row.pk), forged)
    delete = client.post(url(model, "delete", row.pk), {"post": "yes"})
    changelist = client.get(url(model, "changelist"))

    assert (client.get(url(model, "add")).status_code, add.status_code, change.status_code) == (403, 403, 403)
    assert delete.status_code == 403
    if model in MAY_VIEW[who]:
        assert change_page.status_code == 200
        for button in ('name="_save"', 'name="_continue"', 'name="_addanother"', 'class="deletelink"'):
            assert button not in change_page.content.decode()
        assert changelist.status_code == 200
        assert 'value="delete_selected"' not in changelist.content.decode()
    else:
        assert (change_page.status_code, changelist.status_code) == (403, 403)
    assert everything() == before


def test_the_pool_and_the_fee_bookings_are_listed_for_finance_staff(reconciliation_rows, as_user):
    client = as_user("finance_reviewer")

    (pool,) = queue_rows(client.get(url("poolitem", "changelist")))
    (booking,) = queue_rows(client.get(url("feebooking", "changelist")))

    assert (pool["order_no"], pool["side"], pool["amount"], pool["status"]) == (
        "PO-LATE",
        "Ours, not yet in a bill",
        "5.00",
        "Waiting",
    )
    assert (booking["channel"], booking["kind"], booking["amount"]) == ("wechat_pay", "Trade", "0.00")


# 7. Exports


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_the_runs_with_their_counts_and_amounts(make_run, today, as_user, file_format):
    run = finished_run(make_run, today, **COUNTS)
    failed = failed_run(make_run, today - timedelta(days=1), channel="bank", kind="payout")
    client = as_user("auditor")

    header, rows = rows_of(export(client, export_link(client, "run"), "run", file_format), file_format)

    assert header == list(RunResource().get_export_order())
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {str(run.pk), str(failed.pk)}
    row = by_id[str(run.pk)]
    assert (row["channel"], row["bill_date"], row["kind"], row["status"]) == (
        "wechat_pay",
        str(today),
        "trade",
        "succeeded",
    )
    assert (row["bill_lines"], row["bill_amount"], row["local_only"], row["fees_booked"]) == (
        "5",
        "500.00",
        "1",
        "3.00",
    )
    assert (row["clearing_balance"], row["clearing_difference"]) == ("-397.00", "100.00")
    assert by_id[str(failed.pk)]["error"] == "download: the channel did not answer"
    assert by_id[str(failed.pk)]["clearing_balance"] == ""


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_the_discrepancies_and_the_desks_steps(
    make_discrepancy, today, reviewer, as_user, file_format
):
    proposed = make_discrepancy(today)
    desk.discrepancy_propose(
        discrepancy=proposed, actor=reviewer, action="correction", amount=D("-1.50"), reason="=HYPERLINK(x)"
    )
    ignored = make_discrepancy(today, kind="channel_only", local_amount=None, local_status="")
    desk.discrepancy_ignore(discrepancy=ignored, actor=reviewer, reason="test payment by the channel")
    client = as_user("auditor")

    header, rows = rows_of(export(client, export_link(client, "discrepancy"), "discrepancy", file_format), file_format)
    log_header, log = rows_of(
        export(client, export_link(client, "discrepancytransition"), "discrepancytransition", file_format), file_format
    )

    assert header == list(DiscrepancyResource().get_export_order())
    by_id = {row["id"]: row for row in rows}
    first = by_id[str(proposed.pk)]
    assert (first["kind"], first["channel"], first["order_no"], first["status"]) == (
        "amount_mismatch",
        "wechat_pay",
        proposed.order_no,
        "investigating",
    )
    assert (first["local_amount"], first["channel_amount"], first["proposed_amount"]) == ("10.00", "12.00", "-1.50")
    assert (first["proposed_action"], first["proposed_by"], first["proposal_reason"]) == (
        "correction",
        "reviewer1",
        "'=HYPERLINK(x)",
    )
    second = by_id[str(ignored.pk)]
    assert (second["status"], second["local_amount"], second["resolution"]) == (
        "ignored",
        "",
        "test payment by the channel",
    )
    assert log_header == list(DiscrepancyTransitionResource().get_export_order())
    assert sorted((row["discrepancy"], row["order_no"], row["transition"], row["by"]) for row in log) == sorted(
        [
            (str(proposed.pk), proposed.order_no, "investigate", "reviewer1"),
            (str(ignored.pk), ignored.order_no, "ignore", "reviewer1"),
        ]
    )


def test_the_discrepancy_export_holds_only_the_rows_of_the_active_filter(make_discrepancy, today, as_user):
    make_discrepancy(today)
    fee = make_discrepancy(today, kind="fee_mismatch")
    client = as_user("auditor")

    _, rows = rows_of(
        export(client, export_link(client, "discrepancy", "kind__exact=fee_mismatch"), "discrepancy", "csv"), "csv"
    )

    assert [row["id"] for row in rows] == [str(fee.pk)]


@pytest.mark.parametrize("group", ["finance_reviewer", "finance_supervisor", "operations"])
@pytest.mark.parametrize("model", ["run", "discrepancy", "discrepancytransition"])
def test_staff_other_than_auditors_cannot_export(reconciliation_rows, as_user, group, model):
    client = as_user(group)

    changelist = client.get(url(model, "changelist"))

    assert changelist.status_code in (200, 403)
    assert "export_link" not in changelist.content.decode()
    assert client.get(url(model, "export")).status_code == 403
    assert export(client, url(model, "export"), model, "csv").status_code == 403


def test_the_transition_list_names_each_discrepancy_and_its_order(reconciliation_rows, as_user):
    discrepancy = reconciliation_rows["discrepancy"]

    (row,) = queue_rows(as_user("auditor").get(url("discrepancytransition", "changelist")))

    assert (row["discrepancy"], row["order_no"], row["transition"], row["state"]) == (
        f"#{discrepancy.pk}",
        discrepancy.order_no,
        "investigate",
        "investigating",
    )
