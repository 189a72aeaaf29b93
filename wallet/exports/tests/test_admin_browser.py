"""An auditor's large export in a real browser, written by a real worker: start it from the
filtered entries, watch its progress, download it and open the file."""

import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from config.tests.browser import admin_login, wait_for
from wallet.exports.models import ExportJob, ExportJobStatus
from wallet.models import Entry

PASSWORD = "browser-pw-for-tests"
ARTIFACT = Path(__file__).resolve().parents[3] / "var" / "artifacts" / "export-job.png"
DOWNLOAD_TIMEOUT = 30


def downloaded(folder: Path) -> Path:
    """The one finished download in ``folder`` (Chromium writes ``.crdownload`` until done)."""
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT
    while time.monotonic() < deadline:
        files = [path for path in folder.glob("*.xlsx")]
        if files:
            return files[0]
        time.sleep(0.2)
    raise AssertionError(f"no download in {folder} within {DOWNLOAD_TIMEOUT} s")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_auditor_exports_filtered_entries_in_the_background_and_downloads_the_sheet(
    browser, live_server, settings, payments, staff_in, celery_worker_process, tmp_path
):
    # Given more of Alice's entries than an export writes within a request, and a worker
    settings.EXPORT_ASYNC_THRESHOLD = 2
    auditor = staff_in("auditor", "audrey")
    auditor.set_password(PASSWORD)
    auditor.save()
    worker = celery_worker_process.start()
    alice = payments["alice"]

    # When the auditor filters the entries to Alice's account and exports them as XLSX
    admin_login(browser, live_server.url, auditor.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/wallet/entry/?account_code={alice.code}")
    wait_for(browser, "a.export_link").click()
    Select(wait_for(browser, "#id_format")).select_by_visible_text("xlsx")
    browser.find_element(By.CSS_SELECTOR, "#content form [type=submit]").click()

    # Then they land on their export jobs, which refresh until the file is ready
    wait_for(browser, ".export-progress")
    assert "/admin/wallet/exportjob/" in browser.current_url
    link = wait_for(browser, "a.export-download", timeout=60)
    assert "100%" in browser.find_element(By.ID, "result_list").text, worker.output()
    screenshot = tmp_path / "export-job.png"
    browser.save_screenshot(str(screenshot))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACT)

    # And the download is the sheet of Alice's entries only, amounts and ids as numbers
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    link.click()
    sheet = openpyxl.load_workbook(downloaded(downloads))["Entries"]
    header = [cell.value for cell in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == Entry.objects.filter(account=alice).count()
    assert {row[header.index("username")].value for row in rows} == {"alice"}
    assert {row[header.index("amount")].data_type for row in rows} == {"n"}
    assert {row[header.index("id")].data_type for row in rows} == {"n"}
    job = ExportJob.objects.get()
    assert (job.requested_by, job.status, job.query_string) == (
        auditor,
        ExportJobStatus.DONE,
        f"account_code={alice.code.replace(':', '%3A')}",
    )
