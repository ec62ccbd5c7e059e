"""The HTML report seen in a real browser (headless Chromium): lanes, arrows, marks,
hover details, links from the matrix, and no network fetches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cacherace.model import Step
from cacherace.report.html import render_html
from cacherace.report.trace import Trace, load

from .browser import chromium
from .histories import STALE_READ, STALE_SET, stale_read_verdict, stale_set_history

CATALOG = Path(__file__).parents[1] / "claims" / "traces"
OLD = CATALOG / "write-behind-durable--converges--9d43b2.json"  # a format-1 trace with an actor
HANDMADE = "cacherace-traces/cache-aside--fresh-after-ack--000000.json"


def _handmade() -> Trace:
    return Trace("cache-aside", "fresh-after-ack", [], stale_set_history(), stale_read_verdict())


def _cell(strategy: str, claim: str, trace: str) -> dict[str, Any]:
    return {"strategy": strategy, "claim": claim, "verdict": "broken", "tier": "concurrency",
            "steps": 9, "trace": trace, "diagram": "text", "reason": "stale"}  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    results = [
        _cell("cache-aside", "fresh-after-ack", HANDMADE),
        _cell("write-behind-durable", "converges", str(OLD)),
        {"strategy": "cache-aside", "claim": "converges", "verdict": "holds", "examples": 3},
    ]
    html = render_html(results, traces={HANDMADE: _handmade()})
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html, encoding="utf-8")
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(path.as_uri())
        pg.requests = requests
        yield pg


def _section(page: Any, strategy: str) -> Any:
    return page.locator(f"section[id^='cell-{strategy}--']")


@pytest.mark.parametrize(
    ("strategy", "trace"), [("cache-aside", None), ("write-behind-durable", OLD)]
)
def test_lanes_are_processes_plus_two_and_one_arrow_per_step(
    page: Any, strategy: str, trace: Path | None
) -> None:
    history = load(trace).history if trace else stale_set_history()
    processes = {e.process for e in history.events if getattr(e, "process", None)}
    section = _section(page, strategy)
    assert section.locator("svg .lane").count() == len(processes) + 2
    names = section.locator("svg .lane").evaluate_all("ls => ls.map(l => l.dataset.lane)")
    assert names[-2:] == ["redis", "postgres"]
    steps = [e for e in history.events if isinstance(e, Step)]
    assert section.locator("svg .arrow").count() == len(steps)
    box = section.locator("svg .arrow").first.bounding_box()  # drawn: a line with a length
    assert box is not None and box["width"] > 100


def test_hover_shows_exactly_the_full_command_parameters_and_result(page: Any) -> None:
    section = _section(page, "cache-aside")
    for step in [e for e in stale_set_history().events if isinstance(e, Step)]:
        detail = section.locator(f".detail[data-i='{step.index}']")
        assert not detail.is_visible()
        section.locator(f".step[data-i='{step.index}']").hover()
        assert detail.is_visible()
        assert detail.locator(".command").inner_text() == step.command
        if step.args:
            kind = "parameters" if step.target == "postgres" else "arguments"
            assert detail.locator(f".{kind}").inner_text() == ", ".join(step.args)
        if step.rows:
            assert detail.locator(".rows").inner_text() == "k1.0"
        page.mouse.move(0, 0)
        assert not detail.is_visible()


def test_click_keeps_the_detail_open(page: Any) -> None:
    section = _section(page, "write-behind-durable")
    step = next(e for e in load(OLD).history.events if isinstance(e, Step) and e.index > 10)
    section.locator(f".step[data-i='{step.index}']").click()
    page.mouse.move(0, 0)
    detail = section.locator(f".detail[data-i='{step.index}']")
    assert detail.is_visible() and detail.locator(".command").inner_text() == step.command


def test_faults_time_end_state_and_witness_are_marked(page: Any) -> None:
    section = _section(page, "cache-aside")
    assert section.locator("svg .fault").count() == 3  # fail-after, cache crash, cache restart
    assert "fail-after" in section.locator("svg .fault").first.inner_html()
    assert "t=301s" in section.locator(".time").inner_html()
    assert "end: settled" in section.locator(".end").first.inner_html()
    assert section.locator(".broken").get_attribute("data-i") == str(STALE_READ)
    witness = section.locator("rect.witness").evaluate_all("rs => rs.map(r => r.dataset.i)")
    assert str(STALE_SET) in witness
    assert section.locator(".op").count() == 4  # one bar per operation


def test_the_matrix_links_to_each_cells_diagram_with_trace_and_replay(page: Any) -> None:
    for link in page.locator("table.matrix a").all():
        target = page.locator(link.get_attribute("href"))
        assert target.locator("svg").count() == 1
        assert "cacherace replay " in target.inner_text() and "trace " in target.inner_text()


def test_the_page_fetches_nothing(page: Any) -> None:
    assert all(url.startswith(("file:", "data:", "about:")) for url in page.requests)
    assert len(page.requests) == 1  # the page itself
