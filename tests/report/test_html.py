from __future__ import annotations

import re

from cacherace.report.html import render_html

RESULTS = [
    {"strategy": "cache-aside", "claim": "converges", "verdict": "broken", "tier": "concurrency",
     "examples": 12, "seconds": 0.8, "steps": 4, "trace": "cacherace-traces/a.json",
     "diagram": "  0  ┌ read k1 <script>alert(1)</script>\n\x1b[31m 10  ◀ BROKEN\x1b[0m",
     "reason": "cache holds 'k1.0' & db holds 'k1.1'"},
    {"strategy": "cache-aside", "claim": "durable", "verdict": "holds", "tier": "faults",
     "examples": 200, "faults": 37, "seconds": 3.2, "steps": None, "trace": None, "diagram": None,
     "reason": ""},
    {"strategy": "write-behind", "claim": "durable", "verdict": "unknown", "tier": None,
     "examples": 0, "seconds": 0.1, "steps": None, "trace": None, "diagram": None,
     "reason": "needs a cache crash; the URL backend cannot crash servers"},
]  # fmt: skip


def test_one_self_contained_page() -> None:
    page = render_html(RESULTS, backend="local", seed=7)
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    assert "<style>" in page
    assert not re.search(r"<(script|link)\b|\bsrc=|https?://", page)


def test_matrix_cells() -> None:
    page = render_html(RESULTS)
    assert page.count("<table") == 1
    row = re.search(r"<tr><th>cache-aside</th>(.*?)</tr>", page).group(1)
    assert 'class="broken"' in row and "4 steps" in row and "concurrency" in row
    assert 'class="holds"' in row and "200 examples, 37 faults" in row
    assert 'class="none"' in re.search(r"<tr><th>write-behind</th>(.*?)</tr>", page).group(1)
    assert "URL backend cannot crash" in page
    assert "1 holds, 1 broken, 1 unknown" in page


def test_broken_cells_link_to_their_diagram() -> None:
    page = render_html(RESULTS)
    anchor = re.search(r'href="#([^"]+)">broken', page).group(1)
    section = page[page.index(f'id="{anchor}"') :]
    assert "<pre>" in section and "cacherace replay cacherace-traces/a.json" in section


def test_content_is_escaped() -> None:
    page = render_html(RESULTS)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&amp; db holds" in page
    assert "\x1b" not in page
