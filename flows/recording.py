"""One way to record what apply made: track a step's result into the stack's block."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from core.records import resources_of
from core.state import Forgotten, StackRecord, StackResource
from tasks.stack_block import StackStore


class Recorder:
    """Saves each step's result in the stack's block as soon as the step completes, so a crash
    at any point leaves an accurate record; the entries come from the result's type.

    `later` hands a result to one background writer: a block save costs a Prefect API round
    trip (0.2-2 s on a busy host), and the walk must start what the step unblocked without
    waiting for it. Saves keep their order; `flush` waits for them and raises the first error."""

    def __init__(self, store: StackStore) -> None:
        self.store = store
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future[StackRecord]] = []

    def add(self, *values: object) -> StackRecord:
        """Record finished results now (None: nothing to record)."""
        entries = _entries(values)
        return self.store.add(*entries) if entries else self.store.record

    def later(self, *values: object) -> None:
        """Record finished results in the background, in the order given (a `Forgotten`
        result: the resources a step removed leave the record)."""
        forgotten = [value for value in values if isinstance(value, Forgotten)]
        entries = _entries(tuple(value for value in values if not isinstance(value, Forgotten)))
        if entries:
            self._submit(self.store.add, *entries)
        for value in forgotten:
            self._submit(self.store.forget, value)

    def _submit(self, save: Callable[..., StackRecord], *arguments: object) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfalb-record")
        # In the caller's context: its Prefect settings and run (a test harness's API, too).
        run = contextvars.copy_context().run
        self._pending.append(self._writer.submit(run, save, *arguments))

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
