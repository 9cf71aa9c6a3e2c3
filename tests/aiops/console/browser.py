"""Debian's Chromium driven by Selenium through Debian's chromedriver (nothing downloaded), and page helpers."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiops.core.paths import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "console"  # gitignored: screenshots for people to look at
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")

# Layout shifts the page did not cause by user input (the Layout Instability API), collected from page load on.
WATCH_LAYOUT_SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__shifts.push({value: entry.value, input: entry.hadRecentInput, at: Math.round(entry.startTime),
      sources: (entry.sources || []).map((s) => ({
        node: s.node ? `${s.node.nodeName}#${s.node.id}.${s.node.className}` : "?",
        from: [s.previousRect.x, s.previousRect.y, s.previousRect.width, s.previousRect.height],
        to: [s.currentRect.x, s.currentRect.y, s.currentRect.width, s.currentRect.height]}))});
  }
}).observe({type: "layout-shift", buffered: true});
"""


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory, so its own IndexedDB and cookies)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are needed: run scripts/setup.sh (as root it installs them)")
    profile = tempfile.mkdtemp(prefix="aiops-console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_window_size(width, height)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str,
               diagnostics: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except Exception as exc:  # the element is not there yet, or was just replaced
            value, last = None, exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} ({last!r})\n{diagnostics()}")
        time.sleep(0.25)


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def script_errors(driver: Any) -> list[str]:
    """JavaScript errors the page logged (a console that throws is broken, whatever it shows)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry.get("source") == "javascript"]


def unexpected_layout_shift(driver: Any) -> tuple[float, list[Any]]:
    shifts = driver.execute_script("return window.__shifts || []")
    moved = [s for s in shifts if not s["input"]]
    return sum(s["value"] for s in moved), moved


def fits_the_width(driver: Any) -> bool:
    """Nothing sticks out sideways: the page scrolls only down, at this window width."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
