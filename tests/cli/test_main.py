"""The ``cacherace`` dispatcher: help, a missing subcommand, the console entry point."""

from __future__ import annotations

import pytest

from cacherace.cli.main import SUBCOMMANDS

from .helpers import run_cli, run_cli_process


def test_no_subcommand_prints_help_and_exits_2() -> None:
    r = run_cli()
    assert (r.code, r.out) == (2, "")
    assert r.err.startswith("usage: cacherace")
    for name in SUBCOMMANDS:
        assert name in r.err


def test_help_exits_0() -> None:
    r = run_cli("--help")
    assert (r.code, r.err) == (0, "")
    assert r.out.startswith("usage: cacherace") and all(name in r.out for name in SUBCOMMANDS)


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_subcommand_help_exits_0(command: str) -> None:
    r = run_cli(command, "--help")
    assert (r.code, r.err) == (0, "")
    assert r.out.startswith(f"usage: cacherace {command}")


def test_unknown_subcommand_exits_2() -> None:
    r = run_cli("no-such-command")
    assert r.code == 2 and "invalid choice: 'no-such-command'" in r.err


def test_entry_point_process_exit_codes() -> None:
    """``python -m cacherace.cli.main``: the process's own exit status, not main()'s."""
    bare = run_cli_process(timeout=60)
    assert bare.code == 2 and bare.err.startswith("usage: cacherace") and bare.out == ""
    helped = run_cli_process("--help", timeout=60)
    assert helped.code == 0 and helped.out.startswith("usage: cacherace")
