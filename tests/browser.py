"""Headless Chromium (Debian's `chromium`) through Playwright with the system browser: the set-up
the report's and the service page's browser tests share. Import the fixtures into a test module."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install -y chromium && pip install playwright (the system browser; no playwright install)"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL = ("file:", "data:", "http://127.0.0.1:")  # a page may load these; anything else is a problem

sync_api = pytest.importorskip("playwright.sync_api", reason=INSTALL)
needs_chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason=INSTALL)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A page that records console errors, failed page scripts and requests that are not local."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.problems = []
    opened.on("console", lambda m: m.type == "error" and opened.problems.append(f"console: {m.text}"))
    opened.on("pageerror", lambda e: opened.problems.append(f"script: {e}"))
    opened.on("request", lambda r: r.url.startswith(LOCAL) or opened.problems.append(f"network: {r.url}"))
    yield opened
    context.close()
