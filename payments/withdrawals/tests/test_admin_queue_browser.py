"""The approval queue on a laptop: at 1366 × 768 a finance reviewer reads a realistic queue
without scrolling sideways, in English and in Simplified Chinese. The screenshots are kept as
artifacts for people to look at."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from config.tests.browser import admin_login, wait_for
from payments.withdrawals import services
from payments.withdrawals.models import Withdrawal, WithdrawalStatus

PASSWORD = "browser-pw-for-tests"
REVIEW_REASON = "Withdrawals above 5,000.00 are reviewed by finance staff."
FOUR_EYES_REASON = "Withdrawals of 8,000.00 or more need two approvals."
LAPTOP = (1366, 768)
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"


def submitted_ago(withdrawal: Withdrawal, age: timedelta) -> None:
    Withdrawal.objects.filter(pk=withdrawal.pk).update(created_at=timezone.now() - age)


@pytest.fixture
def realistic_queue(make_user, funded_account, submit, staff_in, risk_rule):
    """Four pending orders as a morning's queue has them: large amounts, four-eyes orders (one
    approved once), a frequent customer whose count rules send orders to review, long waits."""
    risk_rule("daily_count", action="review")
    risk_rule("hourly_count", action="review")
    orders = {}
    shop_owner = make_user("zhang.wei.trading")
    funded_account(shop_owner, "60000.00")
    orders["four_eyes_once"] = submit(shop_owner, "9900.00")
    services.withdrawal_approve(withdrawal=orders["four_eyes_once"], actor=staff_in("finance_reviewer", "li.na"))
    orders["large"] = submit(make_funded(make_user, funded_account, "chen.jie", "20000.00"), "6500.00")
    orders["four_eyes"] = submit(make_funded(make_user, funded_account, "wang.fang", "15000.00"), "9999.99")
    frequent = make_funded(make_user, funded_account, "liu.yang", "40000.00")
    for amount in ("120.00", "80.00", "250.00"):
        services.withdrawal_cancel(withdrawal=submit(frequent, amount), actor=frequent)
    orders["frequent"] = submit(frequent, "5200.00")
    submitted_ago(orders["four_eyes_once"], timedelta(days=3, hours=4, minutes=10))
    submitted_ago(orders["large"], timedelta(hours=2, minutes=14))
    submitted_ago(orders["four_eyes"], timedelta(minutes=12))
    assert all(order.status == WithdrawalStatus.PENDING for order in orders.values())
    return orders


def make_funded(make_user, funded_account, username: str, funds: str):
    user = make_user(username)
    funded_account(user, funds)
    return user


def keep_screenshot(browser, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    browser.save_screenshot(str(shot))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    print(f"approval queue screenshot: {shot} (copied to {ARTIFACTS / name})")
    return shot


def widths(browser) -> tuple[int, int, int, int]:
    """The window, the page's scroll width, and the results box's scroll and visible widths."""
    return browser.execute_script(
        "const results = document.querySelector('#changelist .results');"
        "return [window.innerWidth, document.documentElement.scrollWidth,"
        " results.scrollWidth, results.clientWidth]"
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_approval_queue_fits_a_laptop_screen_without_scrolling_sideways(
    browser, live_server, realistic_queue, staff_in, tmp_path
):
    # Given a finance reviewer on a 1366 × 768 laptop
    reviewer = staff_in("finance_reviewer", "reviewer-on-laptop")
    reviewer.set_password(PASSWORD)
    reviewer.save()
    browser.set_window_size(*LAPTOP)

    # When they open the approval queue
    admin_login(browser, live_server.url, reviewer.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/payments/withdrawal/")
    wait_for(browser, "#result_list")
    keep_screenshot(browser, tmp_path, "approval-queue-1366.png")

    # Then neither the page nor the table inside it scrolls sideways
    inner_width, page_width, table_width, table_box = widths(browser)
    assert inner_width <= LAPTOP[0]
    assert page_width <= inner_width
    assert table_width <= table_box
    # And every order is there, its risk reasons as short badges with the full sentence on hover
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == len(realistic_queue)
    badges = {
        badge.text: badge.get_attribute("title") for badge in browser.find_elements(By.CSS_SELECTOR, ".risk-badge")
    }
    assert badges["amount 9,900 > 5,000"] == REVIEW_REASON
    assert badges["four eyes 9,900 ≥ 8,000"] == FOUR_EYES_REASON
    assert badges["orders 4 > 3"] == "At most 3 withdrawals an hour. Please try again later."
    # And the four-eyes order approved once names its first approver
    four_eyes_row = browser.find_element(By.XPATH, f"//tr[.//a[text()='{realistic_queue['four_eyes_once'].order_no}']]")
    assert "1 of 2" in four_eyes_row.text
    assert "li.na" in four_eyes_row.text
    assert "3 d 4 h" in four_eyes_row.text

    # And in Simplified Chinese the queue fits the same screen
    chinese = browser.find_element(By.CSS_SELECTOR, '#language-switch button[data-language="zh-hans"]')
    chinese.click()
    WebDriverWait(browser, 10).until(EC.staleness_of(chinese))
    wait_for(browser, "#result_list")
    assert wait_for(browser, "#site-name").text == "钱包后台"
    keep_screenshot(browser, tmp_path, "approval-queue-1366-zh-hans.png")
    inner_width, page_width, table_width, table_box = widths(browser)
    assert page_width <= inner_width
    assert table_width <= table_box
