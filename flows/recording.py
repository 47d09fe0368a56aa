"""One way to record what apply made: track a step's future (or value) into the stack's block."""

from __future__ import annotations

from core.records import resources_of
from core.state import StackRecord
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
