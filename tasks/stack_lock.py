"""The stack lock: a crash-safe lease per stack (tasks/leases.py), in the Prefect Variable
`kfalb-lock-<stack>` every runner sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core import naming
from core.errors import SpecError
from core.lease import Lease
from core.settings import get_settings
from tasks import leases

VARIABLE_PREFIX = "kfalb-lock-"
_TAGS = ("kubeflow-alb", "stack-lock")


def lock_variable(stack: str) -> str:
    """The Prefect Variable holding a stack's lease."""
    return f"{VARIABLE_PREFIX}{stack}"


def _checked(stack: str) -> str:
    problem = naming.stack_name_problem(stack)
    if problem:
        raise SpecError(f"{problem}.")
    return stack


def stack_lock_of(stack: str) -> leases.Lock:
    """The lock of a stack, as the lease engine takes it."""
    return leases.Lock(
        variable=lock_variable(_checked(stack)),
        subject=stack,
        title=f"the lock of stack {stack}",
        unlock_hint=f"`kfalb unlock --stack {stack}`",
        tags=_TAGS,
    )


@contextmanager
def stack_lock(stack: str, *, timeout: float | None = None) -> Iterator[Lease]:
    """Hold the stack's lock: setup, cleanup and remediation of a stack never overlap.

    The lease is renewed in the background and released on exit; a holder that dies (even by
    SIGKILL) blocks others at most `KFALB_LOCK_LEASE_SECONDS`, and not at all once Prefect shows
    its flow run finished (Crashed, Failed, Cancelled or Completed).
    """
    settings = get_settings()
    lock = stack_lock_of(stack)
    with leases.holding(
        lock,
        settings=settings,
        duration=settings.lock_lease_seconds,
        timeout=timeout or settings.lock_timeout_seconds,
    ) as lease:
        yield lease


def break_lock(stack: str) -> Lease | None:
    """Remove a stack's lock by hand, whoever holds it; returns the lease that was there."""
    return leases.break_lease(stack_lock_of(stack))
