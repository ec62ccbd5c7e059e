"""The scope of a systematic search, and the workloads inside it.

A *workload* fixes what each process does: each client's operations (reads and
writes of the scope's keys, at most ``ops_per_client``) and how many times each
actor runs (at most ``actor_runs``). The explorer enumerates workloads smallest
first (fewest operations), and every interleaving of each, so the schedules of
a scope are searched in order of how many operations they need.

Clients run the same code on their own connections, so swapping two clients'
workloads gives the same histories with process names swapped, and every claim
reads processes symmetrically: only one workload of each swapped pair is run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise, product
from typing import Any

#: One client operation: ``(f, key)``.
Op = tuple[str, str]


@dataclass(frozen=True)
class Scope:
    """The bounds of a systematic search (the defaults are ``cacherace verify``'s)."""

    clients: int = 2
    ops_per_client: int = 2
    keys: int = 1
    actor_runs: int = 2
    advances: int = 1
    faults: int = 1
    #: CHESS's preemption bound; None: unbounded
    preemptions: int | None = 2

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["actor_runs"], out["advances"]
        return out

    def describe(self) -> str:
        pre = "unbounded" if self.preemptions is None else str(self.preemptions)
        return (
            f"{self.clients} clients x {self.ops_per_client} ops, {self.keys} key(s), "
            f"actor runs <= {self.actor_runs}, advances <= {self.advances}, "
            f"faults <= {self.faults}, preemptions {pre}"
        )


@dataclass(frozen=True)
class Workload:
    """What each client does (its operations in order) and each actor's run count."""

    ops: tuple[tuple[Op, ...], ...]
    actor_runs: tuple[int, ...]

    @property
    def size(self) -> int:
        return sum(len(o) for o in self.ops) + sum(self.actor_runs)

    @property
    def spread(self) -> int:
        """How many processes take part, plus one when reads meet writes: among
        workloads of one size, those most likely to race are searched first."""
        busy = sum(1 for o in self.ops if o) + sum(1 for r in self.actor_runs if r)
        fs = {f for o in self.ops for f, _ in o}
        return busy + (1 if {"read", "write"} <= fs else 0)


def _client_ops(scope: Scope, keys: Sequence[str]) -> list[tuple[Op, ...]]:
    one = [(f, k) for f in ("read", "write") for k in keys[: scope.keys]]
    out: list[tuple[Op, ...]] = []
    for n in range(scope.ops_per_client + 1):
        out += [tuple(ops) for ops in product(one, repeat=n)]
    return out


def workloads(scope: Scope, keys: Sequence[str], actors: int) -> Iterator[Workload]:
    """Every workload of ``scope``, fewest operations first (then the most
    spread: the order within a size changes no verdict, only how soon a break
    turns up); clients' workloads in non-increasing order (the symmetry above),
    at least one operation."""
    per_client = _client_ops(scope, keys)
    rank = {ops: i for i, ops in enumerate(per_client)}
    found: list[Workload] = []
    for ops in product(per_client, repeat=scope.clients):
        if any(rank[a] < rank[b] for a, b in pairwise(ops)):
            continue  # a client-swapped copy of a workload already listed
        for runs in product(range(scope.actor_runs + 1), repeat=actors):
            w = Workload(tuple(ops), tuple(runs))
            if w.size:
                found.append(w)
    found.sort(key=lambda w: (w.size, -w.spread))
    yield from found
