"""Headless Debian chromium through selenium, for the tests that must see a page as a browser does.

The browser is the system's (`/usr/bin/chromium` with its matching `/usr/bin/chromedriver`), never
one downloaded at test time: the tests run offline, and the CI script installs both packages. A
missing browser is a failure with the one line that fixes it, not a skip that hides the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# Quiet and offline: nothing the browser does on its own may reach a network or slow the start.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--force-device-scale-factor=1",
    "--hide-scrollbars",
)


def require_chromium(paths: tuple[Path, ...] = (CHROMIUM, CHROMEDRIVER)) -> None:
    missing = [str(path) for path in paths if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver "
            "(apt-get install chromium chromium-driver)",
            pytrace=False,
        )


@contextmanager
def chromium(profile_dir: Path, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless chromium whose console messages `driver.get_log("browser")` returns."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
