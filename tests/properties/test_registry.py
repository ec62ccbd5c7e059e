"""The claim registry."""

from __future__ import annotations

import pytest

from cacherace.model import History, Status, Verdict
from cacherace.properties import CLAIMS, Claim, UnknownClaim, check, claim, get_claim

BUILT_IN = {
    "fresh-after-ack": False,
    "ttl-bounded": False,
    "converges": True,
    "durable": True,
    "no-aborted-reads": False,
    "read-your-writes": False,
    "monotonic-reads": False,
    "available-without-cache": False,
    "single-flight": False,
    "bounded-wait": False,
}


def test_built_in_claims_are_registered() -> None:
    for name, end_state in BUILT_IN.items():
        c = get_claim(name)
        assert isinstance(c, Claim) and c.name == name and c.end_state is end_state
        assert c.summary and "\n" not in c.summary
        assert c.check.__doc__


def test_unknown_claim_lists_the_known_ones() -> None:
    with pytest.raises(UnknownClaim) as info:
        get_claim("fresh")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("unknown claim 'fresh'; known claims: available-without")
    with pytest.raises(ValueError, match="durable"):
        check("nope", History())


def test_every_claim_answers_on_an_empty_history() -> None:
    for name in BUILT_IN:
        v = check(name, History())
        assert v.claim == name and v.status is not Status.BROKEN


def test_registering_a_user_claim() -> None:
    @claim("test-always-broken", summary="for this test")
    def always(history: History) -> Verdict:
        return Verdict.broken_by("wrong-name", "always", len(history))

    try:
        assert get_claim("test-always-broken").end_state is False
        v = check("test-always-broken", History())
        assert v.broken and v.claim == "test-always-broken"  # named after the registry
        with pytest.raises(ValueError, match="already registered"):

            @claim("test-always-broken", summary="another")
            def other(history: History) -> Verdict:
                return Verdict.holds("x")
    finally:
        del CLAIMS["test-always-broken"]


def test_the_documented_example_works() -> None:
    import cacherace.properties as props

    from .builders import H

    source = props.__doc__ or ""
    code = source.split("example the module that defines the strategy)::\n")[1]
    code = code.split("\n\nThen declare")[0]
    namespace: dict[str, object] = {}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "example", "exec"), namespace)
    try:
        h = H(initial={"k": None})
        h.read("c0", "k", None)
        h.write("c1", "k", "k.1")
        assert check("no-empty-reads", h.history).status is Status.HOLDS
        ri = h.invoke("c0", "read", "k")
        rc = h.ok("c0", None)
        v = check("no-empty-reads", h.history)
        assert v.broken and v.witness == (rc, ri)
    finally:
        CLAIMS.pop("no-empty-reads", None)
