"""The admin's language switch in a real browser: a finance reviewer signs in, switches to
Simplified Chinese, sees the admin in Chinese, and switches back to English."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from config.tests.browser import admin_login, wait_for

PASSWORD = "browser-pw-for-tests"


def switch_to(browser, language: str) -> None:
    button = browser.find_element(By.CSS_SELECTOR, f'#language-switch button[data-language="{language}"]')
    button.click()
    WebDriverWait(browser, 10).until(EC.staleness_of(button))


def header(browser) -> tuple[str, str]:
    """The site's name and the logout button, as shown."""
    return (
        wait_for(browser, "#site-name").text,
        browser.find_element(By.CSS_SELECTOR, "#logout-form button").text,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_switches_the_admin_to_chinese_and_back(browser, live_server, staff_in):
    # Given a finance reviewer signed in, in English
    reviewer = staff_in("finance_reviewer", "reviewer-languages")
    reviewer.set_password(PASSWORD)
    reviewer.save()
    admin_login(browser, live_server.url, reviewer.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/payments/usernotification/")
    assert header(browser) == ("Wallet back-office", "LOG OUT")

    # When they pick 简体中文, the page they were on comes back in Chinese
    switch_to(browser, "zh-hans")
    assert browser.current_url.endswith("/admin/payments/usernotification/")
    assert header(browser) == ("钱包后台", "注销")
    assert wait_for(browser, "#language-switch strong").text == "简体中文"

    # And the choice is remembered on the next page
    browser.get(f"{live_server.url}/admin/")
    assert header(browser)[0] == "钱包后台"

    # When they pick English, the admin speaks English again
    switch_to(browser, "en")
    assert header(browser) == ("Wallet back-office", "LOG OUT")
