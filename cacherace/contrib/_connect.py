"""Where the client's servers are, for a library that opens its own connections."""

from __future__ import annotations

import functools
from typing import Any

import redis.utils

# redis-py reads its own version from the installed package metadata each time a
# client is built (``DriverInfo``: ~8 ms here, a scan of sys.path). Recipes build
# their library's clients for every run, so the answer is looked up once.
redis.utils.get_lib_version = functools.cache(redis.utils.get_lib_version)


def redis_options(client: Any) -> dict[str, Any]:
    """``host``, ``port``, ``db`` (and ``password`` when set) of a redis-py client:
    what a library needs to open its own client to the same server."""
    kwargs = client.connection_pool.connection_kwargs
    out = {"host": kwargs.get("host", "localhost"), "port": kwargs.get("port", 6379),
           "db": kwargs.get("db", 0)}  # fmt: skip
    if kwargs.get("password"):
        out["password"] = kwargs["password"]
    return out


def pg_options(conn: Any) -> dict[str, Any]:
    """``host``, ``port``, ``dbname``, ``user`` (and ``password``) of a psycopg
    connection, for a library that connects on its own (Django)."""
    params = conn.info.get_parameters()
    out = {"host": conn.info.host, "port": conn.info.port, "dbname": conn.info.dbname,
           "user": conn.info.user}  # fmt: skip
    if conn.info.password:
        out["password"] = conn.info.password
    out.update({k: v for k, v in params.items() if k == "sslmode"})
    return out
