"""``--junit``: parses with the standard library, one testcase per cell, failures for
broken cells (diagram and replay command), errors for unknown ones."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cacherace.report.junit import render_junit

from .test_html import RESULTS


def test_one_testcase_per_cell_with_counts() -> None:
    suite = ET.fromstring(render_junit(RESULTS))
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("cache-aside", "converges"), ("cache-aside", "durable"), ("write-behind", "durable"),
    ]  # fmt: skip
    broken, holds, unknown = cases
    [failure] = broken.findall("failure")
    assert failure.get("message") == "cache holds 'k1.0' & db holds 'k1.1'"
    assert "┌ read k1 <script>" in (failure.text or "") and "\x1b" not in (failure.text or "")
    assert "cacherace replay cacherace-traces/a.json" in (failure.text or "")
    assert list(holds) == []
    [error] = unknown.findall("error")
    assert "cannot crash servers" in (error.get("message") or "")
