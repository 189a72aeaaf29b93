"""The real-browser infrastructure end to end: Chromium logs into the admin and lists accounts."""

import pytest
from selenium.webdriver.common.by import By

from config.tests.browser import admin_login, wait_for
from wallet import services


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_superuser_logs_into_the_admin_and_sees_the_account_changelist(browser, live_server, django_user_model):
    # Given a superuser with a wallet account, served by a live server
    admin = django_user_model(username="browser-admin", email="admin@example.com", is_staff=True, is_superuser=True)
    admin.set_password("browser-pw")
    admin.save()
    account = services.account_for_user(user=admin)

    # When they log in through the login form and open the accounts changelist
    admin_login(browser, live_server.url, "browser-admin", "browser-pw")
    browser.get(f"{live_server.url}/admin/wallet/account/")

    # Then the changelist renders, with the account in its results
    wait_for(browser, "#changelist")
    heading = browser.find_element(By.CSS_SELECTOR, "#content h1").text
    assert heading.startswith("Select account to"), heading
    results = browser.find_element(By.CSS_SELECTOR, "#result_list").text
    assert account.code in results, results
