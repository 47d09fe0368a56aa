"""Run a few calls at once in threads that keep the caller's context (its Prefect run, so their
logs reach the run's log), returning their results in order; the first error is raised."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def together(calls: Sequence[Callable[[], T]], *, limit: int = 8) -> list[T]:
    """Each call in a thread of its own (at most `limit` at a time), in the caller's context."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(limit, len(calls))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
        return [future.result() for future in futures]
