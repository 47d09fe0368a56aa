"""One way to record what apply made: track a step's result into the stack's block."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from core.records import resources_of
from core.state import Forgotten, StackRecord
from tasks.stack_block import StackStore


class Recorder:
    """Saves each step's result in the stack's block as soon as the step completes, so a crash
    at any point leaves an accurate record; the entries come from the result's type.

    `later` hands a result to one background writer: a block save costs a Prefect API round
    trip (0.2-2 s on a busy host), and the walk must start what the step unblocked without
    waiting for it. The writer saves everything handed to it since its last save in one save
    (results that finish while a save is on its way wait for the next one, not for one save
    each), in the order given; `flush` waits for the saves and raises the first error."""

    def __init__(self, store: StackStore) -> None:
        self.store = store
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future[StackRecord | None]] = []
        self._queued: list[Change] = []
        self._lock = threading.Lock()

    def later(self, *values: object) -> None:
        """Record finished results in the background, in the order given (a `Forgotten`
        result: the resources a step removed leave the record)."""
        changes = [change for value in values if (change := _change(value)) is not None]
        if not changes:
            return
        with self._lock:
            self._queued.extend(changes)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfalb-record")
        # In the caller's context: its Prefect settings and run (a test harness's API, too).
        run = contextvars.copy_context().run
        self._pending.append(self._writer.submit(run, self._save_queued))

    def _save_queued(self) -> StackRecord | None:
        """Save what is queued, in one save (nothing: an earlier save took it all)."""
        with self._lock:
            changes, self._queued = self._queued, []
        return self.store.change(*changes) if changes else None

    def flush(self) -> StackRecord:
        """Wait for every background save; the first failed one is raised."""
        pending, self._pending = self._pending, []
        errors = [error for future in pending if (error := future.exception()) is not None]
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if errors:
            raise errors[0]
        return self.store.record


#: One change of the record: resources added or replaced, or resources a step removed.
Change = Callable[[StackRecord], StackRecord]


def _change(value: object) -> Change | None:
    """How a step's result changes the record (None: it does not)."""
    if value is None:
        return None
    if isinstance(value, Forgotten):
        return lambda record: record.forgetting(value)
    entries = resources_of(value)
    return (lambda record: record.with_resources(*entries)) if entries else None
