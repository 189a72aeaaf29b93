"""The API docs open without internet: Swagger UI and Redoc come from our static files
(drf-spectacular-sidecar), so a Chromium that can reach nothing but the live server still
renders every operation of the schema."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from config.tests.browser import CHROMIUM_ARGUMENTS, PAGE_LOAD_TIMEOUT, save_artifacts, wait_for

# Every host name fails to resolve except the live server's; IP literals other than loopback
# are sent to a closed port. So a CDN script cannot load, whatever its address.
OFFLINE_ARGUMENTS = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>;localhost;127.0.0.1",
)
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist/swagger-ui.css"
# The screenshots of the rendered docs are kept here (var/ is not committed) for people to look at.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture
def offline_browser(chromium_install, tmp_path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium as ``browser`` makes it, with no way out of this machine."""
    chromium, chromedriver = chromium_install
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in (*CHROMIUM_ARGUMENTS, *OFFLINE_ARGUMENTS):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=str(chromedriver), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        yield driver
    finally:
        driver.quit()


def _resources_outside(browser: webdriver.Chrome, origin: str) -> list[str]:
    """Scripts, stylesheets and fetches the page loaded (or tried to) from anywhere but
    ``origin``. Images are left out: Redoc's footer shows Redocly's logo from their CDN, and
    without it the footer shows the text alone."""
    entries = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => [e.name, e.initiatorType])"
    )
    return [url for url, initiator in entries if initiator != "img" and not url.startswith(origin)]


def _screenshot(browser: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / name))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_redoc_render_every_operation_with_the_network_cut_off(offline_browser, live_server, tmp_path):
    browser = offline_browser
    origin = live_server.url

    # Given a browser that reaches nothing but the live server (a CDN is not there)
    with pytest.raises(WebDriverException, match="ERR_"):
        browser.get(CDN)

    # When it opens Swagger UI, the operations of the schema are rendered from local files
    browser.get(f"{origin}/api/docs/")
    try:
        wait_for(browser, ".opblock-summary-path", timeout=30)
        paths = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        _screenshot(browser, "swagger-ui-offline.png")
        assert {"/api/v1/wallet/", "/api/v1/withdrawals/", "/api/v1/wallet/entries/"} <= {
            path.replace("\u200b", "") for path in paths
        }
        assert _resources_outside(browser, origin) == []

        # And Redoc too
        browser.get(f"{origin}/api/redoc/")
        WebDriverWait(browser, 30).until(
            lambda driver: "/api/v1/withdrawals/" in driver.find_element(By.TAG_NAME, "body").text
        )
        _screenshot(browser, "redoc-offline.png")
        assert "Statement, newest first" in browser.find_element(By.TAG_NAME, "body").text
        assert _resources_outside(browser, origin) == []
    except AssertionError:
        save_artifacts(browser, tmp_path)
        raise
