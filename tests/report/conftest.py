"""Report tests render at a known width: the diagram follows the terminal's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
