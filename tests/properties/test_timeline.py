"""The database reference timeline (cacherace.model.timeline)."""

from __future__ import annotations

from cacherace.model.timeline import Timeline

from .builders import H


def test_spans_values_and_replacements() -> None:
    h = H(initial={"k": "k.0"})
    h.advance(1)
    one = h.db("k", "k.1")
    h.db("k", "k.1")  # the same value again: not a change
    h.advance(1)
    two = h.db("k", None)
    other = h.db("j", "j.1")
    tl = Timeline(h.history)
    assert [s.value for s in tl.spans("k")] == ["k.0", "k.1", None]
    [initial] = tl.spans_of("k", "k.0")
    assert initial.start is None and initial.end is not None and initial.end.index == one
    [s1] = tl.spans_of("k", "k.1")
    assert s1.end is not None and s1.end.index == two and s1.end.time == 2
    assert tl.spans_of("k", "zz") == []
    assert tl.value_at("k", 0) == "k.0" and tl.value_at("k", one) == "k.1"
    assert tl.value_at("k", two) is None
    assert tl.final("k") is None and tl.final("j") == "j.1" and tl.final("never") is None
    assert [s.value for s in tl.spans("j")] == [None, "j.1"]
    start = tl.spans("j")[1].start
    assert start is not None and start.index == other
    assert tl.keys() == ["j", "k"]
