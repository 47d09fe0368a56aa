"""Which nodes of a graph may start now (pure): a node starts once every node it waits for has
finished; one waiting for a node that failed (or was skipped) is skipped, saying why. The walk
of the kinds (flows/walk.py) runs its nodes with it, apply and cleanup alike."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)


class Schedule(Generic[N]):
    """The state of a run over `graph` (node -> the nodes it waits for)."""

    def __init__(self, graph: Mapping[N, tuple[N, ...]], *, name: Callable[[N], str] = str) -> None:
        self.graph = dict(graph)
        self.name = name
        self.pending = list(graph)
        self.running: set[N] = set()
        self.done: list[N] = []
        #: Nodes that did not finish, and why ("failed: ..." or "not tried: ...").
        self.left: dict[N, str] = {}

    def startable(self) -> list[N]:
        """The nodes to start now (marked running); skips those behind a node left unfinished."""
        found = []
        changed = True
        while changed:
            changed = False
            for node in list(self.pending):
                blocked = [dep for dep in self.graph[node] if dep in self.left]
                if blocked:
                    self.pending.remove(node)
                    names = ", ".join(dict.fromkeys(self.name(dep) for dep in blocked))
                    self.left[node] = f"not tried: {names} did not finish first"
                    changed = True
                elif all(dep in self.done for dep in self.graph[node]):
                    self.pending.remove(node)
                    self.running.add(node)
                    found.append(node)
        return found

    def finished(self, node: N) -> None:
        self.running.discard(node)
        self.done.append(node)

    def failed(self, node: N, why: str) -> None:
        self.running.discard(node)
        self.left[node] = f"failed: {why}"
