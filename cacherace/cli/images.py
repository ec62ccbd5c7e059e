"""``cacherace images build``: container images from this machine's own servers.

For machines where no image registry is reachable: the Redis and PostgreSQL the
local provider would run are copied, with their libraries, into ``FROM scratch``
images (see cacherace/servers/containers/images.py). ``--backend container`` then finds
them by label, unless a pinned public image is present or another is named.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from cacherace.servers import BackendError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="images_command", metavar="ACTION")
    build = sub.add_parser("build", help="build Redis and PostgreSQL images from local binaries")
    build.add_argument(
        "--redis-image",
        default=None,
        help="tag for the Redis image (default: cacherace/redis:MAJOR.MINOR-local; "
        "env CACHERACE_REDIS_IMAGE)",
    )
    build.add_argument(
        "--postgres-image",
        default=None,
        help="tag for the PostgreSQL image (default: cacherace/postgres:MAJOR-local; "
        "env CACHERACE_POSTGRES_IMAGE)",
    )
    build.add_argument(
        "--only", choices=("redis", "postgres"), default=None, help="build just this one"
    )


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    if getattr(args, "images_command", None) != "build":
        print("cacherace images: say what to do: cacherace images build", file=sys.stderr)
        return 2
    import os

    from cacherace.servers.containers import docker_client
    from cacherace.servers.containers.images import build_image, postgres_spec, redis_spec
    from cacherace.servers.local import find_pg_bindir, find_redis_server

    try:
        client = docker_client(timeout=600)  # a build sends ~100 MB and runs initdb
        kinds = [args.only] if args.only else ["redis", "postgres"]
        for kind in kinds:
            if kind == "redis":
                tag = args.redis_image or os.environ.get("CACHERACE_REDIS_IMAGE")
                spec = redis_spec(find_redis_server(), tag)
            else:
                tag = args.postgres_image or os.environ.get("CACHERACE_POSTGRES_IMAGE")
                spec = postgres_spec(find_pg_bindir(), tag)
            built = build_image(client, spec)
            out(
                f"built {built.tag}: {built.version}, {built.size_mb:.0f} MB, {built.seconds:.1f} s"
            )
    except BackendError as e:
        print(f"cacherace images build: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    out("use them: cacherace verify --backend container (or doctor --backend container)")
    return 0
