"""The rooms keep their direction and their size (read from the source, not run).

Each room is a folder of ``cacherace/`` with one concept; arrows (imports) point
down: cli -> explore -> engine -> model, report -> model, nothing -> cli.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "cacherace"
MODULES = sorted(p for p in ROOT.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at top level or inside functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _in(room: str, module: str) -> bool:
    return module == room or module.startswith(room + ".")


def _room(room: str) -> list[Path]:
    return [p for p in MODULES if _in(f"cacherace.{room}", _name(p))]


def test_the_rooms_are_found() -> None:
    # A layout change that moved everything away would make the checks below vacuous.
    for room in ("model", "properties", "engine", "explore", "report", "servers", "cli"):
        assert _room(room), room


@pytest.mark.parametrize("room", ["model", "properties"])
def test_pure_rooms_import_no_machinery(room: str) -> None:
    upper = ("engine", "explore", "report", "servers", "cli")
    bad = [(_name(p), m) for p in _room(room) for m in _imports(p)
           if any(_in(f"cacherace.{u}", m) for u in upper)]  # fmt: skip
    assert not bad


def test_no_library_module_imports_the_commands() -> None:
    bad = [(_name(p), m) for p in MODULES if not _in("cacherace.cli", _name(p))
           for m in _imports(p) if _in("cacherace.cli", m)]  # fmt: skip
    assert not bad


def test_the_runtime_imports_no_driver() -> None:
    runtime = ROOT / "engine" / "runtime.py"
    drivers = ("redis", "psycopg", "cacherace.engine.drivers")
    assert not [m for m in _imports(runtime) if any(_in(d, m) for d in drivers)]


def _classes(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            yield node.name, node.end_lineno - node.lineno + 1


def test_no_folder_holds_more_than_twelve_modules() -> None:
    # The package's face (__init__.py) is not counted: it names the room's concept.
    crowded = {}
    for folder in {p.parent for p in MODULES}:
        n = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        if n > 12:
            crowded[str(folder.relative_to(ROOT))] = n
    assert not crowded


def test_reports_parse_no_step_text() -> None:
    # Steps carry their parameters and rows as data: reports render structure.
    assert not [_name(p) for p in _room("report") if "re" in set(_imports(p))]


def test_modules_and_classes_stay_small() -> None:
    long_modules = [(_name(p), n) for p in MODULES
                    if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]  # fmt: skip
    long_classes = [(_name(p), c, n) for p in MODULES for c, n in _classes(p) if n > 250]
    assert not long_modules
    assert not long_classes


def test_the_engine_facade_stays_small() -> None:
    # Jobs belong to the collaborators (runtime, step, waiting, nemesis, ...).
    facade = (ROOT / "engine" / "engine.py").read_text(encoding="utf-8").splitlines()
    assert len(facade) <= 200
