"""A failing ``cacherace_check`` shows the diagram and replay command in pytest's
own JUnit XML (``--junitxml``), where CI systems read failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .test_regression_traces import BROKEN, FIND


def test_a_failing_check_puts_the_diagram_in_pytests_junit_xml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_cache=BROKEN, test_find=FIND)
    # a subprocess: the inner session starts and stops servers of its own
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(failed=1)
    suite = ET.parse(pytester.path / "out.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    [case] = suite.findall("testcase")
    [failure] = case.findall("failure")
    text = failure.text or ""
    assert "converges: BROKEN" in text and "◀ BROKEN" in text and "├" in text
    assert "replay: cacherace replay " in text
