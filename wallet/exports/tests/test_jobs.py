"""Large exports: queued for the worker, written with progress, downloaded by their requester only,
deleted when they expire."""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from wallet.exports import tasks
from wallet.exports.models import ExportJob, ExportJobStatus
from wallet.exports.services import export_path
from wallet.exports.tests.sheets import export_table
from wallet.exports.tests.support import export
from wallet.models import Entry

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:wallet_exportjob_changelist")


def download_url(job: ExportJob) -> str:
    return reverse("admin:wallet_exportjob_download", args=[job.pk])


@pytest.fixture
def large(settings):
    """Two rows are already too many to export within the request."""
    settings.EXPORT_ASYNC_THRESHOLD = 2
    settings.EXPORT_CHUNK_SIZE = 2


@pytest.fixture
def auditor(staff_in):
    return staff_in("auditor", "audrey")


@pytest.fixture
def queued(large, payments, auditor, client_for, django_capture_on_commit_callbacks):
    """An XLSX export of Alice's entries, queued and not yet run."""
    with django_capture_on_commit_callbacks() as queued_on_commit:
        response = export(client_for(auditor), "entry", "xlsx", f"account_code={payments['alice'].code}")
    assert response.status_code == 302
    assert response["Location"] == JOBS
    assert len(queued_on_commit) == 1
    return ExportJob.objects.get()


def test_a_large_export_is_queued_and_its_page_refreshes_while_it_waits(queued, auditor, client_for):
    page = client_for(auditor).get(JOBS)

    assert queued.status == ExportJobStatus.PENDING
    assert not export_path(queued).exists()
    assert 'http-equiv="refresh"' in page.content.decode()
    assert '<progress class="export-progress" value="0" max="100">' in page.content.decode()


def test_the_worker_writes_the_filtered_rows_and_the_owner_downloads_them(queued, payments, auditor, client_for):
    tasks.export_job_process.apply(args=[queued.pk])

    queued.refresh_from_db()
    alice_entries = Entry.objects.filter(account=payments["alice"]).count()
    assert (queued.status, queued.progress) == (ExportJobStatus.DONE, 100)
    assert queued.rows_total == queued.rows_written == alice_entries
    assert queued.expires_at == queued.finished_at + timedelta(hours=24)
    client = client_for(auditor)
    page = client.get(JOBS).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert download_url(queued) in page
    response = client.get(download_url(queued))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{queued.download_name}"'
    content = response.getvalue()
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Entries"]
    assert {row[0].data_type for row in sheet.iter_rows(min_row=2)} == {"n"}
    _, rows = export_table(content, "xlsx")
    assert {row["username"] for row in rows} == {"alice"}
    assert len(rows) == alice_entries


def test_another_auditor_neither_sees_nor_downloads_the_job_and_other_staff_are_refused(
    queued, staff_in, client_for, make_user
):
    tasks.export_job_process.apply(args=[queued.pk])
    other_auditor = client_for(staff_in("auditor", "otto"))
    reviewer = client_for(staff_in("finance_reviewer", "rita"))

    assert other_auditor.get(download_url(queued)).status_code == 404
    assert download_url(queued) not in other_auditor.get(JOBS).content.decode()
    assert reviewer.get(download_url(queued)).status_code == 403
    assert reviewer.get(JOBS).status_code == 403
    assert client_for(make_user("root", is_staff=True, is_superuser=True)).get(download_url(queued)).status_code == 200


def test_expired_files_are_deleted_and_no_longer_downloadable(queued, auditor, client_for):
    tasks.export_job_process.apply(args=[queued.pk])
    ExportJob.objects.filter(pk=queued.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = ExportJob.objects.create(
        requested_by=auditor,
        content_type=queued.content_type,
        resource=queued.resource,
        file_format="csv",
        language="en",
        status=ExportJobStatus.DONE,
        stored_name="fresh.csv",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    export_path(fresh).write_bytes(b"\xef\xbb\xbfid\n")

    assert tasks.export_jobs_purge.apply().get() == 1

    queued.refresh_from_db()
    assert queued.status == ExportJobStatus.EXPIRED
    assert not export_path(queued).exists()
    assert export_path(fresh).exists()
    assert client_for(auditor).get(download_url(queued)).status_code == 404


def test_a_job_whose_requester_lost_the_export_permission_fails_without_a_file(queued, auditor):
    auditor.groups.clear()

    tasks.export_job_process.apply(args=[queued.pk])

    queued.refresh_from_db()
    assert queued.status == ExportJobStatus.FAILED
    assert "may no longer export" in queued.error
    assert not export_path(queued).exists()
