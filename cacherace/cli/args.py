"""Command-line options every server-using subcommand shares, in one place."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cacherace.servers import KINDS, Backend, open_backend


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", default="auto", choices=KINDS,
        help="where Redis and PostgreSQL come from (default: auto)",
    )  # fmt: skip
    parser.add_argument("--redis-url", default=None,
                        help="use this Redis (needs --allow-destructive)")  # fmt: skip
    parser.add_argument("--database-url", default=None,
                        help="use this PostgreSQL (needs --allow-destructive)")  # fmt: skip
    parser.add_argument(
        "--allow-destructive", action="store_true",
        help="allow deleting the suite's keys / schema on servers given by URL",
    )  # fmt: skip
    parser.add_argument("--pg-user", default=None,
                        help="user PostgreSQL runs as when cacherace runs as root")  # fmt: skip
    add_image_arguments(parser)


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    for kind, name in (("redis", "Redis"), ("postgres", "PostgreSQL")):
        parser.add_argument(
            f"--{kind}-image",
            default=None,
            help=f"container provider: the {name} image (env CACHERACE_{kind.upper()}_IMAGE)",
        )


def backend_from_args(args: argparse.Namespace) -> Backend:
    """Open the backend the options ask for (raises BackendError)."""
    return open_backend(**backend_options(args))


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """``open_backend``'s keywords from the options (what worker processes open)."""
    return dict(
        kind=args.backend,
        redis_url=args.redis_url,
        database_url=args.database_url,
        allow_destructive=args.allow_destructive
        or os.environ.get("CACHERACE_ALLOW_DESTRUCTIVE") == "1",
        pg_user=args.pg_user,
        redis_image=args.redis_image,
        postgres_image=args.postgres_image,
    )


def jobs_count(text: str) -> int:
    """``--jobs``: a whole number of worker processes, 1 or more (else ValueError)."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ValueError(
            f"--jobs needs a whole number of worker processes, 1 or more, got {text!r} "
            "(e.g. --jobs 2 on a 2-core machine)"
        )
    return jobs


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
