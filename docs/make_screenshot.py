"""Take docs/html-report.png: one broken cell of a ``cacherace verify --html`` page,
in Debian's headless Chromium, with one step hovered to show its detail panel.

    cacherace verify --strategy cache-aside-leases --claim converges --html /tmp/r.html
    python docs/make_screenshot.py /tmp/r.html cache-aside-leases 1
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def main(page_path: str, strategy: str, step: str) -> None:
    out = Path(__file__).with_name("html-report.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(Path(page_path).resolve().as_uri())
        section = page.locator(f"section[id^='cell-{strategy}--']")
        section.locator(f".step[data-i='{step}']").hover()
        section.screenshot(path=str(out))
        browser.close()
    print(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
