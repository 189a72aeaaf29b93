"""Real-browser admin tests: headless Debian Chromium driven by Selenium.

Registered from the root conftest.py with ``pytest_plugins = ["config.tests.browser"]``, this
module gives every test the fixtures below and the hooks that keep screenshots of failures.

- ``chromium_install`` (session): makes sure Debian's ``chromium``, ``chromium-driver`` and a CJK font are
  installed, running apt-get as root when they are not, after saying so on the terminal (past
  pytest's capture); the pytest-xdist workers take turns through a file lock. A failed install
  fails the test with apt's output, it never skips.
- ``browser`` (function): a headless ``webdriver.Chrome`` on those binaries, so Selenium
  Manager never downloads anything. When the test fails, its screenshot, page source and
  console log are saved under the test's ``tmp_path`` and listed in the failure report.

Helpers: ``admin_login(browser, live_server_url, username, password)`` and
``wait_for(browser, css_selector, timeout=10)``.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# A CJK font, so pages and screenshots in Simplified Chinese show characters, not boxes.
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
APT_PACKAGES = ("chromium", "chromium-driver", "fonts-wqy-microhei")
INSTALL_LOCK = Path(tempfile.gettempdir()) / "wallet-chromium-install.lock"
# Per apt-get command; the first test of a fresh machine gets this much more pytest-timeout.
APT_TIMEOUT = 600
PAGE_LOAD_TIMEOUT = 30
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # Chromium refuses to start as root with its sandbox.
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_ARTIFACTS_SAVED = pytest.StashKey[Path]()


def _chromium_installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists() and CJK_FONT.exists()


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_TIMEOUT}", *args]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        # Fixed arguments, no shell; apt-get from root's PATH is the point.
        return subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as error:
        parts = (error.stdout, error.stderr)
        output = "".join(part.decode() if isinstance(part, bytes) else part or "" for part in parts)
        return subprocess.CompletedProcess(command, -1, output, f"timed out after {APT_TIMEOUT} s")


def _install_chromium(say: Callable[[str], None]) -> str:
    """Runs apt-get, after telling the user through ``say``: installing system packages is not
    something a test run may do silently. Returns what failed with apt's output, or "" when
    both binaries are there."""
    if os.geteuid() != 0:
        return f"{CHROMIUM} or {CHROMEDRIVER} is missing and only root can apt-get install {' '.join(APT_PACKAGES)}"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} or {CHROMEDRIVER} is missing and this machine has no apt-get"
    say(
        f"The browser tests need {CHROMIUM} and {CHROMEDRIVER}: installing Debian's {' '.join(APT_PACKAGES)} "
        f"with apt-get (up to {APT_TIMEOUT // 60} minutes per apt-get step)."
    )
    log = []
    for args in (("update",), ("install", "-y", "--no-install-recommends", *APT_PACKAGES)):
        result = _apt_get(*args)
        log.append(f"$ {' '.join(result.args)}\n(exit {result.returncode})\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            return "\n".join(log)
    if not _chromium_installed():
        return "\n".join([*log, f"apt-get succeeded but {CHROMIUM}, {CHROMEDRIVER} or {CJK_FONT} is still missing"])
    return ""


def _terminal_line(config: pytest.Config) -> Callable[[str], None]:
    """Prints a line on the terminal even while pytest captures output; under pytest-xdist a
    worker's standard error is the terminal's."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            print(f"\n{line}", file=sys.stderr, flush=True)

    return say


@pytest.fixture(scope="session")
def chromium_install(pytestconfig: pytest.Config) -> tuple[Path, Path]:
    """(chromium, chromedriver) paths, installed with apt-get first when missing."""
    if not _chromium_installed():
        INSTALL_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with INSTALL_LOCK.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # Released on close: one apt-get at a time.
            # Another worker may have installed them while this one waited.
            if not _chromium_installed() and (failure := _install_chromium(_terminal_line(pytestconfig))):
                pytest.fail(f"could not install Chromium for the browser tests:\n{failure}", pytrace=False)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(chromium_install, tmp_path, request) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile; quit after the test."""
    chromium, chromedriver = chromium_install
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(chromedriver), log_output=str(tmp_path / "chromedriver.log"))
    failed_before = request.session.testsfailed
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.implicitly_wait(0)
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        yield driver
        reports = request.node.stash.get(_REPORTS, None)
        # Without this module's hooks (fixtures imported, not registered as a plugin) the
        # session's failure count tells whether the test failed.
        failed = request.session.testsfailed > failed_before if reports is None else False
        if failed and _ARTIFACTS_SAVED not in request.node.stash:
            directory, _ = save_artifacts(driver, tmp_path)
            warnings.warn(f"browser screenshot and page source of the failed test: {directory}", stacklevel=1)
    finally:
        driver.quit()


def save_artifacts(driver: webdriver.Chrome, directory: Path) -> tuple[Path, list[str]]:
    """Screenshot, page source, URL and console log of ``driver`` into ``directory/browser-failure``."""
    directory = directory / "browser-failure"
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    steps = {
        "screenshot.png": lambda path: driver.save_screenshot(str(path)),
        "page.html": lambda path: path.write_text(driver.page_source),
        "url.txt": lambda path: path.write_text(f"{driver.current_url}\n{driver.title}\n"),
        "console.json": lambda path: path.write_text(json.dumps(driver.get_log("browser"), indent=2)),
    }
    for name, save in steps.items():
        try:
            save(directory / name)
            lines.append(f"{name}: {directory / name}")
        except (WebDriverException, OSError) as error:
            lines.append(f"{name}: not saved ({type(error).__name__}: {error})")
    return directory, lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the item and saves the browser's state as a test fails."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    funcargs = getattr(item, "funcargs", {})
    driver = funcargs.get("browser")
    if report.failed and report.when == "call" and isinstance(driver, webdriver.Chrome):
        tmp_path = funcargs.get("tmp_path") or Path(tempfile.mkdtemp(prefix="browser-failure-"))
        directory, lines = save_artifacts(driver, tmp_path)
        item.stash[_ARTIFACTS_SAVED] = directory
        report.sections.append(("browser at failure", "\n".join(lines)))
    return report


def _pytest_timeout_of(item: pytest.Item) -> float:
    """The pytest-timeout budget of ``item`` in seconds, 0 for none."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.kwargs.get("timeout", marker.args[0] if marker.args else None)
    else:
        try:
            value = item.config.getoption("timeout", None) or item.config.getini("timeout")
        except ValueError:  # pytest-timeout is not installed.
            value = None
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a machine without Chromium the first browser test also installs it: pytest-timeout
    must not count apt-get against that test."""
    if _chromium_installed():
        return
    for item in items:
        timeout = _pytest_timeout_of(item)
        if timeout > 0 and "chromium_install" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(timeout + 2 * APT_TIMEOUT), append=False)


def wait_for(browser: webdriver.Chrome, css_selector: str, timeout: float = 10) -> WebElement:
    """The first element matching ``css_selector`` once it is in the page, within ``timeout`` s."""
    try:
        return WebDriverWait(browser, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css_selector)))
    except TimeoutException:
        raise AssertionError(
            f"no {css_selector!r} within {timeout} s on {browser.current_url} ({browser.title!r})"
        ) from None


def admin_login(browser: webdriver.Chrome, live_server_url: str, username: str, password: str) -> None:
    """Logs into the Django admin through its login form with the password and the code of the
    user's authenticator (enrolled now when they have none, docs/OPERATIONS.md "Staff
    sign-in"); fails unless the admin then shows the logged-in user's tools and logout form."""
    # Models import only once pytest-django has set Django up, after this plugin is loaded.
    from django.contrib.auth import get_user_model

    from config.tests.staff import totp_code, totp_device_for

    code = totp_code(totp_device_for(get_user_model().objects.get(username=username)))
    browser.get(f"{str(live_server_url).rstrip('/')}/admin/login/")
    wait_for(browser, "#id_username").send_keys(username)
    browser.find_element(By.CSS_SELECTOR, "#id_password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "#id_otp_token").send_keys(code)
    submit = browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]")
    submit.click()
    WebDriverWait(browser, 10).until(EC.staleness_of(submit))
    wait_for(browser, "#user-tools, .errornote")
    errors = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".errornote")]
    assert not errors, f"admin login as {username!r} failed: {' '.join(errors)}"
    assert browser.find_elements(By.CSS_SELECTOR, "#user-tools #logout-form"), (
        f"no logout form after logging in as {username!r} on {browser.current_url}"
    )


__all__ = ["admin_login", "browser", "chromium_install", "save_artifacts", "wait_for"]
