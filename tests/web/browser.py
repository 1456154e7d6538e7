"""Headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, one browser per person."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JINQIAO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("JINQIAO_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--window-size=1400,1000")


def require_browser() -> None:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(f"browser tests need {CHROMIUM} and {CHROMEDRIVER}: run scripts/system-deps.sh")


class Browser:
    """One person's browser: sign in, read elements, wait for conditions, save screenshots."""

    def __init__(self, base_url: str, language: str = "zh-CN") -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--lang={language}")
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.base = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def sign_in(self, user_id: str, password: str) -> None:
        self.open("/login")
        self.driver.find_element("id", "user_id").send_keys(user_id)
        self.driver.find_element("id", "password").send_keys(password)
        self.driver.find_element("id", "sign-in").click()

    def text(self, css: str) -> str:
        found = self.driver.find_elements("css selector", css)
        return found[0].text if found else ""

    def js(self, script: str):  # type: ignore[no-untyped-def]
        return self.driver.execute_script(script)

    def wait(self, predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
        """Poll a condition on the page (cooperatively: the engine runs in this process under gevent)."""
        import gevent

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except Exception:  # the page is between two renders
                pass
            gevent.sleep(0.05)
        return False

    def click(self, css: str, timeout: float = 20.0) -> bool:
        """Click an element that the live stream may redraw between finding and clicking it (retried)."""
        def once() -> bool:
            self.driver.find_element("css selector", css).click()
            return True
        return self.wait(once, timeout)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        self.driver.quit()
