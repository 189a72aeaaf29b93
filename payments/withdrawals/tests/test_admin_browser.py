"""The withdrawal queue in a real browser: a finance reviewer approves one order and rejects another."""

import pytest
from django_fsm_log.models import StateLog
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from config.tests.browser import admin_login, wait_for
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from wallet.models import Account, Hold

PASSWORD = "browser-pw-for-tests"


def click_and_wait_for_next_page(browser, css_selector: str) -> None:
    button = browser.find_element(By.CSS_SELECTOR, css_selector)
    button.click()
    WebDriverWait(browser, 10).until(EC.staleness_of(button))


def selected_status(browser) -> str:
    return browser.find_element(
        By.CSS_SELECTOR, '#changelist-filter details[data-filter-title="status"] li.selected'
    ).text


def success_messages(browser) -> list[str]:
    wait_for(browser, ".messagelist")
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".messagelist .success")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_approves_one_pending_withdrawal_and_rejects_another_in_the_browser(
    browser, live_server, make_user, funded_account, submit, staff_in, sent_tasks
):
    # Given two pending withdrawals of two customers, and a finance reviewer with a password
    payers = [make_user("payer1"), make_user("payer2")]
    for payer in payers:
        funded_account(payer, "10000.00")
    first, second = (submit(payer, "6000.00") for payer in payers)
    assert (first.status, second.status) == (WithdrawalStatus.PENDING, WithdrawalStatus.PENDING)
    reviewer = staff_in("finance_reviewer", "reviewer-in-browser")
    reviewer.set_password(PASSWORD)
    reviewer.save()

    # When the reviewer logs in and opens the withdrawals, they land on the pending queue
    admin_login(browser, live_server.url, reviewer.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/payments/withdrawal/")
    queue = wait_for(browser, "#result_list").text
    assert selected_status(browser) == "Pending review"
    assert first.order_no in queue
    assert second.order_no in queue

    # They open the first order and approve it: back on the queue, without it
    browser.find_element(By.LINK_TEXT, first.order_no).click()
    wait_for(browser, "#review-panel")
    click_and_wait_for_next_page(browser, "#approve-button")
    assert success_messages(browser) == [f"{first.order_no} is approved."]
    assert browser.current_url == f"{live_server.url}/admin/payments/withdrawal/", browser.current_url
    assert selected_status(browser) == "Pending review"
    queue = wait_for(browser, "#result_list").text
    assert first.order_no not in queue
    assert second.order_no in queue

    # They open the second, give a reason and reject it
    browser.find_element(By.LINK_TEXT, second.order_no).click()
    wait_for(browser, "#reject-form #id_reason").send_keys("The card holder's name does not match the account.")
    click_and_wait_for_next_page(browser, "#reject-button")
    assert success_messages(browser) == [f"{second.order_no} is rejected; the money is back in the wallet."]
    assert browser.current_url == f"{live_server.url}/admin/payments/withdrawal/", browser.current_url
    assert not browser.find_elements(By.LINK_TEXT, second.order_no)

    # Then the first is approved by the reviewer and its payout enqueued
    first.refresh_from_db()
    assert first.status == WithdrawalStatus.APPROVED
    approve = StateLog.objects.for_(first).get(transition="approve")
    assert (approve.source_state, approve.state, approve.by) == ("pending", "approved", reviewer)
    assert list(first.approvals.values_list("actor", flat=True)) == [reviewer.pk]
    assert sent_tasks.named("payments.withdrawal_dispatch") == [{"args": [first.pk], "countdown": None}]
    # And the second is rejected with the reason, its hold released
    second.refresh_from_db()
    assert second.status == WithdrawalStatus.REJECTED
    assert second.status_reason == "The card holder's name does not match the account."
    reject = StateLog.objects.for_(second).get(transition="reject")
    assert (reject.by, reject.description) == (reviewer, "The card holder's name does not match the account.")
    assert Hold.objects.get(pk=second.hold_id).status == Hold.Status.RELEASED
    wallet = Account.objects.get(owner=second.user, kind=Account.Kind.USER)
    assert (wallet.balance, wallet.held) == (10000, 0)
    assert Withdrawal.objects.filter(status=WithdrawalStatus.PENDING).count() == 0
