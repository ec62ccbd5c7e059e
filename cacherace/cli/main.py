"""The ``cacherace`` command: a dispatcher; each subcommand lives in its own module.

Every subcommand module offers ``add_arguments(parser)`` and ``run(args) -> int``.
Exit codes everywhere: 0 success, 1 a claim broken / nothing works, 2 usage or
environment error.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "doctor": ("cacherace.cli.doctor", "check which servers are available and how they crash"),
    "verify": ("cacherace.cli.verify", "check strategies against the claims they make"),
    "replay": ("cacherace.cli.replay", "re-run a saved trace on fresh servers"),
    "bench": ("cacherace.cli.bench.command", "measure harness speed and race finding"),
    "images": ("cacherace.cli.images", "build container images from this machine's servers"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; subcommand modules are imported only for ``only`` (or all when None),
    so ``cacherace replay`` does not pay for importing the benchmark."""
    parser = argparse.ArgumentParser(
        prog="cacherace",
        description="Check caching strategies' claims against real Redis and PostgreSQL.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            importlib.import_module(module).add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in SUBCOMMANDS else None)
    args = parser.parse_args(argv)  # argparse exits 2 on bad arguments
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("cacherace: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
