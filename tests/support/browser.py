"""Debian's Chromium driven by Playwright for Python, for the page tests.

The browser is /usr/bin/chromium (never `playwright install`); without it the tests skip,
unless THINKSWITCH_REQUIRE_BROWSER=1 (set by `make test` as root) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def _unavailable(reason: str) -> None:
    if os.environ.get("THINKSWITCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser tests must run here (THINKSWITCH_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright `Browser`), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium; `make test` does it "
                     "as root)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
