"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for report tests
and the README's screenshot. Playwright cannot download browsers here: it is
pointed at the system's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@contextmanager
def chromium() -> Iterator[Any]:
    """A browser, or a failed test (in CI) / skipped one (elsewhere) saying what to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright: pip install -e '.[dev]'")
    if not shutil.which(CHROMIUM):
        _missing("Debian's chromium: apt-get install -y chromium chromium-driver")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _missing(what: str) -> None:
    message = f"the browser tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
