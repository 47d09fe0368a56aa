"""The process's stop request: once asked (the command's first Ctrl-C or SIGTERM), no new AWS or
Kubernetes request starts and every wait ends at once, each with `Interrupted`.

The request in flight is left to finish (botocore and the Kubernetes client are never cut
mid-request), so its effect is known and the task that made it records it; what a task would do
after it is left to the next run, which resumes (every step is idempotent).
"""

from __future__ import annotations

import threading

from core.errors import Interrupted

_requested = threading.Event()
_reason = ["interrupted"]


def request_stop(reason: str = "interrupted") -> None:
    """Ask every task of this process to stop at its next AWS or Kubernetes request or wait."""
    _reason[0] = reason
    _requested.set()


def stop_requested() -> bool:
    """True once a stop was asked for."""
    return _requested.is_set()


def clear() -> None:
    """Forget a stop request (a new command in the same process; tests)."""
    _requested.clear()


def check(before: str) -> None:
    """Raise `Interrupted` when a stop was asked for; `before` names what would start next."""
    if _requested.is_set():
        raise Interrupted(f"{_reason[0]}: stopped before {before}")


def sleep(seconds: float) -> None:
    """Sleep, or raise `Interrupted` as soon as a stop is asked for (the sleep of every wait)."""
    if _requested.wait(max(0.0, seconds)):
        check("the next poll of a wait")
