"""`make test` may install Chromium with apt-get for the browser tests: never without saying so."""

import subprocess

from config.tests import browser


def test_chromium_is_installed_with_apt_get_only_after_a_line_that_says_so(monkeypatch):
    # Given a root shell on Debian without Chromium
    events: list[object] = []

    def apt_get(*args: str) -> subprocess.CompletedProcess[str]:
        events.append(("apt-get", *args))
        return subprocess.CompletedProcess(["apt-get", *args], 0, "", "")

    monkeypatch.setattr(browser.os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(browser, "_apt_get", apt_get)
    monkeypatch.setattr(browser, "_chromium_installed", lambda: True)

    # When the browser tests' set-up installs it
    failure = browser._install_chromium(events.append)

    # Then a line naming the packages and apt-get came first, then apt-get
    assert failure == ""
    announcement, *commands = events
    assert isinstance(announcement, str)
    assert "installing Debian's chromium chromium-driver fonts-wqy-microhei with apt-get" in announcement
    assert commands == [
        ("apt-get", "update"),
        ("apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver", "fonts-wqy-microhei"),
    ]
