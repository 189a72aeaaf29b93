"""The admin's Content-Security-Policy and the headers on every response (config.security), and the
admin still working under that policy in a real browser."""

import pytest
from selenium.webdriver.common.by import By

from config.security import ADMIN_CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from config.tests.browser import admin_login, wait_for

PASSWORD = "browser-pw-for-tests"


def test_admin_pages_carry_the_strict_policy_and_the_api_only_the_common_headers(client):
    admin = client.get("/admin/login/")
    api = client.get("/api/v1/wallet/")

    assert admin.status_code == 200
    assert admin.headers["Content-Security-Policy"] == ADMIN_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in admin.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in admin.headers["Content-Security-Policy"]
    assert "Content-Security-Policy" not in api.headers
    for response in (admin, api):
        assert response.headers["Permissions-Policy"] == PERMISSIONS_POLICY
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_over_https_the_response_asks_for_hsts(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True

    response = client.get("/admin/login/", secure=True)

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def csp_violations(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_runs_its_scripts_and_styles_under_the_policy_in_a_browser(browser, live_server, django_user_model):
    # Given a superuser
    django_user_model.objects.create_superuser("csp-admin", "csp@example.com", PASSWORD)

    # When they log in and open the index, a change list with its date filter and an add form
    admin_login(browser, live_server.url, "csp-admin", PASSWORD)
    browser.get(f"{live_server.url}/admin/")
    wait_for(browser, "#content")
    browser.get(f"{live_server.url}/admin/auth/user/add/")
    wait_for(browser, "#user_form")
    browser.get(f"{live_server.url}/admin/auth/group/add/")
    # Then the admin's own scripts ran (the permissions widget is built by SelectFilter2.js)
    wait_for(browser, "#id_permissions_filter")
    browser.find_element(By.CSS_SELECTOR, "#id_permissions_input").send_keys("withdrawal")

    # And the browser refused nothing
    assert csp_violations(browser) == []
