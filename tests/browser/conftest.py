"""A real browser for the control center tests: headless Chromium driven by Selenium.

Chromium and its driver come from Debian (scripts/test-packages.sh installs them). When
they are missing the tests fail in CI and are skipped elsewhere. Screenshots go to the
folder TEST_ARTIFACTS_DIR names (default: constellation-test-artifacts in the system's
temporary folder) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS_DIR")
    or Path(tempfile.gettempdir()) / "constellation-test-artifacts"
)
USERNAME, PASSWORD = "operator", "a-long-test-password-42"
# Seconds the browser tests wait for the page to change.
WAIT_S = 20


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium (Selenium)")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium, closed after the test."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        need_service("selenium", False, str(exc))
    need_service(
        "Chromium",
        CHROMIUM.exists() and CHROMEDRIVER.exists(),
        f"{CHROMIUM} or {CHROMEDRIVER} missing (scripts/test-packages.sh installs them)",
    )
    profile = tempfile.mkdtemp(prefix="cc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        "--lang=en-US",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """Save the page as <TEST_ARTIFACTS_DIR>/<name>.png and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


async def in_browser(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking Selenium call off the event loop the test's chargers run on."""
    return await asyncio.to_thread(func, *args)


def wait_for(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition, message)


def log_in(driver: Any, base_url: str, username: str = USERNAME) -> None:
    """Log in through the admin's login form."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "user-tools"), "login did not succeed")


# The two screens every page is looked at on: a laptop's and a phone's.
SCREENS = {"desktop": (1366, 768), "phone": (390, 844)}


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def shows(selector: str, expected: str) -> Callable[[Any], bool]:
    """A wait condition: the first element matching `selector` is visible and has `expected`."""

    def condition(driver: Any) -> bool:
        found = css(driver, selector)
        return bool(found) and found[0].is_displayed() and expected in found[0].text

    return condition


def too_wide(driver: Any) -> list[int] | None:
    """Return [page width, window width] when the page scrolls sideways, else None."""
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];"
    )
    return widths if widths[0] > widths[1] else None


def on_every_screen(driver: Any, name: str) -> dict[str, list[int]]:
    """Screenshot the page as `<name>-desktop` and `<name>-phone`; return the screens it is
    too wide for (see `too_wide`). The window is left at the desktop size."""
    wide = {}
    for screen, size in SCREENS.items():
        driver.set_window_size(*size)
        screenshot(driver, f"{name}-{screen}")
        widths = too_wide(driver)
        if widths:
            wide[screen] = widths
    driver.set_window_size(*SCREENS["desktop"])
    return wide
