"""The package type-checks: mypy over ``cacherace/`` with the settings in
pyproject.toml (``[tool.mypy]``), as a test so CI keeps the hints honest (~15 s,
cold cache, one worker)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error(tmp_path: Path) -> None:
    out, err, status = api.run(
        ["--cache-dir", str(tmp_path / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
         str(ROOT / "cacherace")]
    )  # fmt: skip
    assert status == 0, out + err
    assert "Success: no issues found" in out
