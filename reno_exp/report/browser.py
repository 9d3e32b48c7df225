"""Headless Chromium driven by Selenium, for the tests, the benchmark and the README's screenshot.

The browser is Debian's, installed on first use by the repository's ``scripts/chromium.py`` (its flags are
that script's too). The driver's path is given explicitly, so Selenium never looks for one on the
network. Every wait has a deadline.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reno_exp.report.sources import UserError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chromium.py"
LOAD_S = 120  # a 45,000-item page parses in seconds; a minute or two means something is wrong


def installer():
    """scripts/chromium.py as a module (the repository's own installer; not part of an installed wheel)."""
    if not SCRIPT.is_file():
        raise UserError(f"{SCRIPT} is missing: the browser checks run from a checkout of the repository")
    spec = importlib.util.spec_from_file_location("reno_exp_chromium", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def chromium(width: int = 1280, height: int = 900, log=print, network_log: bool = False) -> Iterator:
    """A headless Chromium WebDriver with a new, empty profile; the browser's console log is kept, and with
    ``network_log`` the DevTools events that ``requests`` reads (off by default: they slow the page)."""
    chrome = installer()
    try:
        chrome.install(log=log)
    except chrome.ChromiumUnavailable as e:
        raise UserError(str(e)) from None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise UserError("selenium is missing: pip install -e '.[dev]' (the dev extra)") from None
    profile = Path(tempfile.mkdtemp(prefix="reno_exp_chromium_"))
    options = webdriver.ChromeOptions()
    options.binary_location = chrome.CHROMIUM
    for flag in (*chrome.FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network_log else {})})
    driver = webdriver.Chrome(service=Service(chrome.CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(LOAD_S)
        driver.set_script_timeout(LOAD_S)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(condition, timeout: float, what: str, step: float = 0.05):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def open_page(driver, page: Path, timeout: float = LOAD_S) -> float:
    """Load the page from file:// and wait for its first screen; the milliseconds from navigation to that
    screen, as the page's own Performance API mark says."""
    driver.get(Path(page).resolve().as_uri())
    wait(lambda: driver.execute_script("return document.documentElement.dataset.ready === '1'"), timeout,
         f"{page} to draw its first screen")
    return driver.execute_script("return performance.getEntriesByName('first-screen')[0].startTime")


# an image on the screen (checkVisibility: not inside a closed <details>, whose content keeps a box)
VISIBLE = ("i.checkVisibility() && i.getBoundingClientRect().bottom > 0 "
           "&& i.getBoundingClientRect().top < innerHeight")


def console_errors(driver) -> list[dict]:
    """The browser log's entries at level SEVERE since the last call (errors of scripts and of loads)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def requests(driver, page: Path | None = None) -> list[str]:
    """The URLs asked for since the last call (the DevTools Network events of the log), by ``page``'s
    document only when given (the browser's own start page asks for its chrome:// parts too)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent" and (
                page is None or params.get("documentURL") == Path(page).resolve().as_uri()):
            urls.append(params["request"]["url"])
    return urls


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 900, at: str | None = None,
               log=print) -> Path:
    """A PNG of the page's first screen, or of the screen starting at element ``#at``."""
    with chromium(width, height, log=log) as driver:
        open_page(driver, page)
        if at:
            driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", at)
        wait(lambda: driver.execute_script(
            f"return [...document.images].filter(i => {VISIBLE}).every(i => i.complete)"), 30, "the visible images")
        png.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(png))
    return png
