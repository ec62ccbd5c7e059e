"""Where the terminal diagram's columns go, for a given width.

The index, one column per process, then Redis and PostgreSQL. Widths follow the
terminal: process columns as wide as their labels (within bounds), and the rest
shared by the servers, PostgreSQL's part the larger since a Redis step's text may
run on over the (empty) PostgreSQL column of its row. Text is put with whole words
(:func:`~cacherace.report.steps.fit_words`), never cut mid-word.
"""

from __future__ import annotations

from collections.abc import Iterable

from cacherace.engine.drivers.calls import POSTGRES, REDIS
from cacherace.report.steps import StepText, fit, fit_words, one_line

INDEX_WIDTH = 5  # "  12 " before the first column
MIN_PROCESS_WIDTH = 8
MAX_PROCESS_WIDTH = 26
MIN_SERVERS_WIDTH = 48  # Redis and PostgreSQL together, at the least
MIN_WIDTH = 60
MARK_WIDTH = 10  # " ◀ witness" after the widest row


class Layout:
    """Columns for ``processes`` in a diagram of ``width`` characters, marks included."""

    def __init__(self, processes: list[str], labels: Iterable[str], width: int) -> None:
        self.total = max(MIN_WIDTH, width)
        self.width = self.total - MARK_WIDTH  # rows; a mark may follow
        longest = max((len(s) for s in labels), default=0) + 2
        room = (self.width - INDEX_WIDTH - MIN_SERVERS_WIDTH) // max(1, len(processes))
        self.wp = max(MIN_PROCESS_WIDTH, min(MAX_PROCESS_WIDTH, longest, room))
        self.x = {p: INDEX_WIDTH + i * self.wp for i, p in enumerate(processes)}
        self.x[REDIS] = INDEX_WIDTH + len(processes) * self.wp + 1
        servers = self.width - self.x[REDIS]
        self.x[POSTGRES] = self.x[REDIS] + max(20, min(servers * 2 // 5, 44))
        self.processes = processes

    def server_room(self, target: str) -> int:
        """Characters from a server's column to the row's end."""
        return self.width - self.x[target]

    def blank(self, alive: Iterable[str]) -> list[str]:
        row = [" "] * self.width
        for p in alive:
            row[self.x[p]] = "│"
        return row

    def put(self, row: list[str], x: int, text: str) -> None:
        text = one_line(text)  # texts come here one-lined; this is the backstop
        for i, ch in enumerate(text[: self.width - x]):
            row[x + i] = ch

    def free_from(self, row: list[str], x: int) -> int:
        """How many cells from ``x`` are free before the next lifeline (a note's row
        has nothing in the servers' columns, so a note may run on over them)."""
        end = self.width
        n = 0
        while x + n < end and row[x + n] == " ":
            n += 1
        return n

    def note(self, row: list[str], p: str, text: str | StepText) -> None:
        """Text in a process's column, spilling right over free cells only."""
        x = self.x[p]
        room = max(self.wp - 1, self.free_from(row, x + 1) + 1)
        if isinstance(text, StepText):
            shown = fit(text, room)
        else:
            shown = fit_words(one_line(text).split(" "), room)
        self.put(row, x, shown)

    def at_server(self, row: list[str], target: str, text: str) -> None:
        """Text from a server's column to the end of the row, whole words."""
        words = one_line(text).split(" ")
        self.put(row, self.x[target], fit_words(words, self.server_room(target)))

    def arrow(self, row: list[str], p: str, target: str, st: StepText) -> None:
        start, end = self.x[p], self.x[target]
        row[start] = "├"
        for i in range(start + 1, end - 1):
            row[i] = "┼" if row[i] == "│" else "─"
        row[end - 1] = "▶"
        self.put(row, end + 1, fit(st, self.server_room(target) - 1))

    def rule(self, text: str, char: str = "─") -> list[str]:
        """A row across every column (time advances, the end state)."""
        span = self.width - INDEX_WIDTH
        body = f"{char * 2} {fit_words(text.split(' '), span - 4)} ".ljust(span, char)
        return [" "] * INDEX_WIDTH + list(body)

    def header(self) -> tuple[str, str]:
        """The column names and the line under them."""
        names = [" "] * self.width
        under = [" "] * self.width
        self.put(names, 0, "  #")
        self.put(under, 0, "───")
        columns = [*self.processes, REDIS, POSTGRES]
        for i, name in enumerate(columns):
            x = self.x[name]
            nxt = self.x[columns[i + 1]] if i + 1 < len(columns) else self.width + 1
            w = nxt - x - 1
            self.put(names, x, fit_words([name], w))
            self.put(under, x, "─" * (w - (name in self.processes)))
        return "".join(names).rstrip(), "".join(under).rstrip()
