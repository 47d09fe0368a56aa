"""One way to record what apply made: track a step's result into the stack's block."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from core.records import resources_of
from core.state import StackRecord, StackResource
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
        self._queued: list[StackResource] = []
        self._lock = threading.Lock()

    def add(self, *values: object) -> StackRecord:
        """Record finished results now (None: nothing to record)."""
        entries = _entries(values)
        return self.store.add(*entries) if entries else self.store.record

    def later(self, *values: object) -> None:
        """Record finished results in the background, in the order given."""
        entries = _entries(values)
        if not entries:
            return
        with self._lock:
            self._queued.extend(entries)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfalb-record")
        # In the caller's context: its Prefect settings and run (a test harness's API, too).
        run = contextvars.copy_context().run
        self._pending.append(self._writer.submit(run, self._save_queued))

    def _save_queued(self) -> StackRecord | None:
        """Save what is queued, in one save (nothing: an earlier save took it all)."""
        with self._lock:
            entries, self._queued = self._queued, []
        return self.store.add(*entries) if entries else None

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


def _entries(values: tuple[object, ...]) -> list[StackResource]:
    return [entry for value in values if value is not None for entry in resources_of(value)]
