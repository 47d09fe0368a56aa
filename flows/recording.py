"""One way to record what apply made: track a step's future (or value) into the stack's block."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.futures import PrefectFuture

from core.records import resources_of
from core.state import StackRecord, StackResource
from tasks.stack_block import StackStore


class Recorder:
    """Saves each step's result in the stack's block as soon as the step completes, so a crash
    at any point leaves an accurate record; the entries come from the result's type."""

    def __init__(self, store: StackStore) -> None:
        self.store = store

    def add(self, *values: object) -> StackRecord:
        """Record finished results (None: nothing to record)."""
        entries = [entry for value in values if value is not None for entry in resources_of(value)]
        return self.store.add(*entries) if entries else self.store.record

    def track(
        self,
        future: PrefectFuture[Any],
        *,
        as_: Callable[[Any], StackResource] | None = None,
    ) -> None:
        """Record a concurrent step's result when it completes (`as_`: builds the entry from the
        result, for steps whose result's type does not say what they made)."""

        def done(finished: PrefectFuture[Any]) -> None:
            # The final state comes from the finished future itself: `state` alone may read the
            # task run from the API, where it can still be Running (states are recorded async).
            finished.wait()
            if finished.state.is_completed():
                result = finished.result()
                self.add(as_(result) if as_ is not None else result)

        future.add_done_callback(done)
