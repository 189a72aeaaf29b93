"""Staff sign-in in a real browser: a finance reviewer types the code of their authenticator."""

import pytest
from selenium.webdriver.common.by import By

from config.tests.browser import admin_login, wait_for

PASSWORD = "browser-pw-for-tests"


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_signs_in_with_the_code_of_their_authenticator_and_opens_the_queue(browser, live_server, staff_in):
    reviewer = staff_in("finance_reviewer", "reviewer-with-totp")
    reviewer.set_password(PASSWORD)
    reviewer.save()

    admin_login(browser, live_server.url, reviewer.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/payments/withdrawal/")

    wait_for(browser, "#result_list, #changelist")
    assert browser.find_elements(By.CSS_SELECTOR, "#user-tools #logout-form")
    assert reviewer.totpdevice_set.get().last_t > 0
