"""``cacherace verify --junit``: the cells as a JUnit XML test suite, for CI systems.

One ``testcase`` per cell (``classname`` the strategy, ``name`` the claim). A broken
cell is a ``failure`` whose text is the diagram and the replay command; an unknown
cell is an ``error`` (the claim could not be decided); a holding cell passes.
Input: the ``results`` list of ``--json`` (see :mod:`cacherace.report.html`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from cacherace.report.html import plain


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_junit(results: Sequence[Mapping[str, Any]], *, name: str = "cacherace verify") -> str:
    """The XML document for ``results``."""
    failures = sum(1 for r in results if r.get("verdict") == "broken")
    errors = sum(1 for r in results if r.get("verdict") not in ("broken", "holds"))
    total = sum(float(r.get("seconds") or 0.0) for r in results)
    suite = ET.Element(
        "testsuite",
        name=name, tests=str(len(results)), failures=str(failures), errors=str(errors),
        skipped="0", time=f"{total:.3f}",
    )  # fmt: skip
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname=str(r.get("strategy", "")), name=str(r.get("claim", "")),
            time=f"{float(r.get('seconds') or 0.0):.3f}",
        )  # fmt: skip
        reason = _one_line(str(r.get("reason") or ""))
        if r.get("verdict") == "broken":
            body = plain(str(r.get("diagram") or reason))
            if r.get("trace") and "cacherace replay" not in body:
                body += f"\n\nreplay: cacherace replay {r['trace']}"
            failure = ET.SubElement(case, "failure", message=reason or "broken", type="broken")
            failure.text = body
        elif r.get("verdict") != "holds":
            error = ET.SubElement(case, "error", message=reason or "unknown", type="unknown")
            error.text = reason
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )
