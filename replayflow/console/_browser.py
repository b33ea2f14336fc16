"""Headless Chromium driven by selenium, for the console's browser tests and screenshots.

Uses the system's ``chromium`` and ``chromedriver`` (Debian packages ``chromium`` and ``chromium-driver``);
nothing is downloaded. selenium is in the ``test`` extra.
"""

from __future__ import annotations

import shutil
from typing import Any

__all__ = ["CHROMIUM_FLAGS", "find_chromium", "start_chromium"]

#: Flags for a quiet, offline, throwaway browser (a fresh ``--user-data-dir`` is added).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def find_chromium() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or ``None`` when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_chromium(profile: str, width: int = 1400, height: int = 900) -> Any:
    """A selenium ``WebDriver`` on a new headless Chromium with its profile in the empty directory ``profile``
    (``quit()`` it when done)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(options=options, service=Service(executable_path=found[1]))
