"""Watch plumbing: the change history and the per-client watchers fed from it."""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from .resources import StorageKey

Predicate = Callable[[dict[str, Any]], bool]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class Change:
    """One committed change: ``old`` is None for ADDED, ``new`` is the last state for DELETED."""

    rv: int
    key: StorageKey
    namespace: str
    type: str
    old: dict[str, Any] | None
    new: dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: dict[str, Any]


class Watcher:
    """The events of one watch request, delivered through a queue."""

    def __init__(self, key: StorageKey, namespace: str | None, predicate: Predicate) -> None:
        self.key = key
        self.namespace = namespace
        self.predicate = predicate
        self._queue: queue.Queue[WatchEvent | None] = queue.Queue()
        self.closed = False

    def _concerns(self, change: Change) -> bool:
        return change.key == self.key and self.namespace in (None, change.namespace)

    def offer(self, change: Change) -> None:
        """Queue ``change`` as the client sees it through its selectors.

        An object that stops matching is DELETED for this watcher; one that starts matching
        is ADDED, as with a real API server.
        """
        if self.closed or not self._concerns(change):
            return
        old_in = change.old is not None and self.predicate(change.old)
        new_in = self.predicate(change.new)
        if change.type == "DELETED":
            kind = "DELETED" if new_in or old_in else None
        elif old_in and new_in:
            kind = "MODIFIED"
        elif new_in:
            kind = "ADDED"
        elif old_in:
            kind = "DELETED"
        else:
            kind = None
        if kind is not None:
            self.push(WatchEvent(kind, json_copy(change.new)))

    def push(self, event: WatchEvent) -> None:
        self._queue.put(event)

    def next(self, timeout: float) -> WatchEvent | None:
        """The next event, or None after ``timeout`` seconds or once closed."""
        if self.closed and self._queue.empty():
            return None
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def close(self) -> None:
        self.closed = True
        self._queue.put(None)  # wakes a reader blocked in next()


class History:
    """A bounded log of changes, so that a watch can resume from a resourceVersion."""

    def __init__(self, size: int = 10_000) -> None:
        self._changes: deque[Change] = deque()
        self._size = size
        self.floor = 0  # changes at or below this resourceVersion are forgotten

    def append(self, change: Change) -> None:
        self._changes.append(change)
        if len(self._changes) > self._size:
            self.floor = self._changes.popleft().rv

    def since(self, rv: int) -> list[Change]:
        return [c for c in self._changes if c.rv > rv]
