"""The cacherace pytest plugin (registered through the pytest11 entry point).

Servers: options choose where they come from; one Backend per session (per
xdist worker, so workers never share a server); everything started is stopped
at session end, on failure, Ctrl-C or SIGTERM too.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import hypothesis
import pytest

from cacherace.report.trace import DEFAULT_DIR
from cacherace.servers import (
    KINDS,
    Backend,
    BackendError,
    BackendUnavailable,
    PostgresServer,
    RedisServer,
    open_backend,
)
from cacherace.servers.provider import close_all

if TYPE_CHECKING:
    from cacherace.explore.cell import CellResult
    from cacherace.explore.replay import ReplayResult


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cacherace", "cacherace servers")
    group.addoption(
        "--cacherace-backend",
        default="auto",
        choices=KINDS,
        help="where Redis and PostgreSQL come from (default: auto = local, embedded, container)",
    )
    group.addoption("--redis-url", default=None, help="use this Redis (needs --allow-destructive)")
    group.addoption(
        "--database-url", default=None, help="use this PostgreSQL (needs --allow-destructive)"
    )
    group.addoption(
        "--allow-destructive",
        action="store_true",
        help="allow deleting the suite's keys/schema on servers given by URL",
    )
    parser.addini(
        "cacherace_traces",
        "a directory of saved traces, each collected as a regression test (rootdir-relative)",
        default="",
    )
    parser.addini(
        "cacherace_traces_expect",
        "what a collected trace must answer on replay: holds (default) or broken",
        default="holds",
    )
    group.addoption(
        "--pg-user",
        default=None,
        help="unprivileged user PostgreSQL runs as when tests run as root (default: postgres)",
    )


def _on_sigterm(signum: int, frame: Any) -> None:
    # Default SIGTERM ends Python without atexit hooks: turn it into an exit that
    # unwinds, so fixtures finalise and every server is killed and reaped.
    raise SystemExit(128 + signum)


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, _on_sigterm)


def pytest_unconfigure(config: pytest.Config) -> None:
    close_all()  # whatever a failing or interrupted session left open


@pytest.fixture(scope="session")
def cacherace_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The session's servers' provider; skips the test when none is usable here."""
    opt = request.config.getoption
    try:
        backend = open_backend(
            opt("--cacherace-backend"),
            redis_url=opt("--redis-url"),
            database_url=opt("--database-url"),
            allow_destructive=opt("--allow-destructive"),
            pg_user=opt("--pg-user"),
        )
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))  # one line
    except BackendError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def cacherace_servers(cacherace_backend: Backend) -> tuple[RedisServer, PostgresServer]:
    """(Redis with persistence "none", PostgreSQL), running. Crash tests restart what they crash."""
    try:
        redis_server = cacherace_backend.redis("none")
        pg = cacherace_backend.postgres()
    except BackendUnavailable as e:
        pytest.skip(" ".join(str(e).split()))
    for server in (redis_server, pg):
        if server.can_crash and not server.alive:
            server.restart()  # a previous test crashed it and did not restart
    return redis_server, pg


# --- strategy-checking helpers -------------------------------------------------
# Fixtures that run a strategy against the servers above go below this line
# (owned by the harness engineer; keep server management above).


class _Checker:
    """What ``cacherace_check`` gives a test: call it with a strategy."""

    def __init__(self, backend: Backend, trace_dir: Path) -> None:
        self.backend = backend
        self.trace_dir = trace_dir

    def __call__(
        self,
        strategy: str | type,
        claims: Sequence[str] | None = None,
        *,
        max_examples: int | None = None,
        seed: int = 0,
        **options: Any,
    ) -> list[CellResult]:
        """Explore ``strategy`` for ``claims`` (default: the ones it declares). Fails
        the test with each broken claim's diagram and replay command; skips it,
        saying why, when a claim could not be decided here (e.g. it needs crash
        faults and the servers are given by URL). Returns the cells otherwise."""
        # Imported here: the scheduler patches the drivers, which only checking needs.
        from cacherace.explore.cell import Budget
        from cacherace.explore.check import check_strategy

        budget = Budget(
            # per tier and exploration: the loaded Hypothesis profile's budget
            max_examples=max_examples or hypothesis.settings().max_examples,
            seed=seed,
        )
        results = check_strategy(
            self.backend, strategy, claims, budget=budget, trace_dir=self.trace_dir, **options
        )
        return _judge(results)


def _judge(results: list[CellResult]) -> list[CellResult]:
    """Fail on a broken claim (with its diagram and replay command) and on a harness
    failure (never a pass or a skip: the strategy was not checked); skip, saying
    why, on a claim that cannot be decided here; else return the cells."""
    from cacherace.explore.check import ClaimsBroken

    broken = [r for r in results if r.verdict == "broken"]
    failed = [r for r in results if r.harness_error]
    if broken or failed:
        errors = [f"{r.claim}: the harness failed: {r.harness_error}" for r in failed]
        pytest.fail("\n\n".join([str(ClaimsBroken(broken)), *errors]) if broken
                    else "\n\n".join(errors), pytrace=False)  # fmt: skip
    unknown = [r for r in results if r.verdict == "unknown"]
    if unknown:
        pytest.skip("; ".join(f"{r.claim}: unknown: {r.reason}" for r in unknown))
    return results


@pytest.fixture
def cacherace_check(cacherace_backend: Backend, request: pytest.FixtureRequest) -> _Checker:
    """Check a strategy's claims against this session's servers::

        def test_my_cache(cacherace_check):
            cacherace_check("myapp/cache.py:MyCache", ["fresh-after-ack", "converges"])

    A broken claim fails the test with the shrunk interleaving as a sequence
    diagram, the saved trace (under ``cacherace-traces/`` in the rootdir) and the
    ``cacherace replay`` command that re-runs it.
    """
    return _Checker(cacherace_backend, Path(request.config.rootpath) / DEFAULT_DIR)


# --- cells as test items (spread with pytest-xdist) -------------------------------
class Cell(NamedTuple):
    """One (strategy, claim) cell: a strategy spec and a claim it is checked for."""

    strategy: str
    claim: str


def cacherace_cells(strategies: Sequence[str] | None = None,
                    claims: Sequence[str] | None = None) -> list[Any]:  # fmt: skip
    """One ``pytest.param`` per cell, to parametrize a test so that each cell is its
    own item (and pytest-xdist spreads them over workers, or machines)::

        @pytest.mark.parametrize("cell", cacherace_cells(["myapp/cache.py:MyCache"]))
        def test_cell(cacherace_verify, cell):
            cacherace_verify(cell)

    ``strategies``: catalog names, ``module:Class`` or ``path.py:Class`` (default:
    the catalog); ``claims``: default, each strategy's declared claims.
    """
    from cacherace.strategies.registry import CATALOG, load_strategy_spec

    out = []
    for spec in strategies if strategies is not None else list(CATALOG):
        for claim in claims if claims is not None else load_strategy_spec(spec).claims:
            out.append(pytest.param(Cell(spec, claim), id=f"{spec}--{claim}"))
    return out


class _Verifier:
    """What ``cacherace_verify`` gives a test: call it with a :class:`Cell`."""

    def __init__(self, backend: Backend, trace_dir: Path) -> None:
        self.backend = backend
        self.trace_dir = trace_dir

    def __call__(self, cell: Cell | tuple[str, str], *, max_examples: int | None = None,
                 seed: int = 0, mode: str = "both", scope: Any = None,
                 exhaustive_seconds: float | None = None, **options: Any,
                 ) -> CellResult:  # fmt: skip
        """Explore one cell as ``cacherace verify`` does (each tier exhaustively within
        ``scope``, default verify's, to completion unless ``exhaustive_seconds`` caps
        it; then ``max_examples`` random examples, default the Hypothesis profile's).
        Fails when the claim breaks, with the report; fails on a harness error;
        skips only when the claim cannot be decided here, saying why."""
        from cacherace.explore.cell import Budget
        from cacherace.explore.check import check_strategy
        from cacherace.explore.scope import Scope

        strategy, claim = cell
        budget = Budget(
            max_examples=max_examples or hypothesis.settings().max_examples, seed=seed,
            mode=mode, scope=scope or Scope(), exhaustive_seconds=exhaustive_seconds,
        )  # fmt: skip
        results = check_strategy(self.backend, strategy, [claim], budget=budget,
                                 trace_dir=self.trace_dir, **options)  # fmt: skip
        return _judge(results)[0]


@pytest.fixture
def cacherace_verify(cacherace_backend: Backend, request: pytest.FixtureRequest) -> _Verifier:
    """Check one (strategy, claim) cell from :func:`cacherace_cells` on this
    session's (this xdist worker's) servers; traces go under ``cacherace-traces/``."""
    return _Verifier(cacherace_backend, Path(request.config.rootpath) / DEFAULT_DIR)


# --- traces as regression tests --------------------------------------------------
class _Replayer:
    """What ``cacherace_replay`` gives a test: call it with a trace's path."""

    def __init__(self, backend: Backend, root: Path) -> None:
        self.backend = backend
        self.root = root

    def __call__(self, path: str | Path, expect: str = "broken") -> ReplayResult:
        """Replay the trace's schedule on the strategy as it is now (an action that
        no longer applies is a no-op, as in exploration), judge the claim on that
        run, and fail the test unless it is ``expect`` (``broken``: the bug is still
        there; ``holds``: the fix holds on this schedule)."""
        from cacherace.explore.replay import ReplayError, replay_trace
        from cacherace.report.regression import EXPECTATIONS, met, regression_report
        from cacherace.report.trace import TraceError, load

        if expect not in EXPECTATIONS:
            raise ValueError(f"expect must be one of {EXPECTATIONS}, got {expect!r}")
        file = Path(path) if Path(path).is_absolute() else self.root / path
        try:
            trace = load(file)
            result = replay_trace(trace, self.backend)
        except (TraceError, ReplayError) as exc:
            pytest.fail(f"{path}: {exc}", pytrace=False)
        if not met(result, expect):
            pytest.fail(regression_report(path, trace, result, expect), pytrace=False)
        return result


@pytest.fixture
def cacherace_replay(cacherace_backend: Backend, request: pytest.FixtureRequest) -> _Replayer:
    """Replay a saved trace as a regression test (paths relative to the rootdir)::

    def test_stale_set_is_fixed(cacherace_replay):
        cacherace_replay("tests/traces/cache-aside--converges--d7676e.json", expect="holds")
    """
    return _Replayer(cacherace_backend, Path(request.config.rootpath))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Each trace under the ``cacherace_traces`` ini directory is a test that the
    claim holds on the trace's schedule (``cacherace_traces_expect`` to change)."""
    folder = parent.config.getini("cacherace_traces")
    if not folder or file_path.suffix != ".json":
        return None
    root = (Path(parent.config.rootpath) / str(folder)).resolve()
    if root not in file_path.resolve().parents:
        return None
    return TraceFile.from_parent(parent, path=file_path)


class TraceFile(pytest.File):
    """A trace file, collected as one test item."""

    def collect(self) -> Iterator[pytest.Item]:
        path = self.path
        expect = str(self.config.getini("cacherace_traces_expect") or "holds")

        def replay(cacherace_replay: _Replayer) -> None:
            cacherace_replay(path, expect=expect)

        yield pytest.Function.from_parent(self, name=f"replay[{expect}]", callobj=replay)
