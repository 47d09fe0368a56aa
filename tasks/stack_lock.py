"""The stack lock: a crash-safe lease per stack, kept in a Prefect Variable every runner sees.

Taking the lock creates the variable `kfalb-lock-<stack>`; Prefect refuses a second variable of
the same name, so of two takers exactly one succeeds. The variable's id changes with every
acquisition and serves as its version: a lapsed lease is removed by id (a second taker's delete
of the same id finds nothing), and renewing by id fails once someone else has taken over.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import VariableCreate
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from pydantic import ValidationError

from core import naming
from core.errors import SpecError
from core.lease import MISSING, Lease, new_lease, renew_interval, takeover_reason
from core.settings import Settings, get_settings
from tasks.logs import run_logger
from tasks.waits import wait_for

VARIABLE_PREFIX = "kfalb-lock-"
_TAGS = ["kubeflow-alb", "stack-lock"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lock_variable(stack: str) -> str:
    """The Prefect Variable holding a stack's lease."""
    return f"{VARIABLE_PREFIX}{stack}"


@dataclass(frozen=True)
class _Stored:
    id: UUID
    lease: Lease


@dataclass(frozen=True)
class _Attempt:
    held: _Stored | None = None
    seen: Lease | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _checked(stack: str) -> str:
    if not naming.is_valid_stack_name(stack):
        raise SpecError(
            f"{stack[:60]!r} is not a stack name (1-40 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit)."
        )
    return stack


def _read(client: SyncPrefectClient, stack: str) -> _Stored | None:
    variable = client.read_variable_by_name(lock_variable(stack))
    if variable is None:
        return None
    try:
        lease = Lease.model_validate(variable.value)
    except ValidationError:  # not ours to understand: treat as long lapsed
        lease = Lease(stack=stack, token="?", since=_EPOCH, expires=_EPOCH)
    return _Stored(id=variable.id, lease=lease)


def _create(client: SyncPrefectClient, lease: Lease) -> UUID | None:
    value: Any = lease.model_dump(mode="json")
    create = VariableCreate(name=lock_variable(lease.stack), value=value, tags=_TAGS)
    try:
        return client.create_variable(create).id
    except ObjectAlreadyExists:
        return None


def _by_id(client: SyncPrefectClient, method: str, variable_id: UUID, **kwargs: Any) -> bool:
    """DELETE or PATCH the variable of exactly this acquisition; False when it is gone."""
    try:
        client.request(method, "/variables/{id}", path_params={"id": variable_id}, **kwargs)  # type: ignore[arg-type]
    except PrefectHTTPStatusError as error:
        if error.response.status_code == 404:
            return False
        raise
    return True


def _holder_state(client: SyncPrefectClient, lease: Lease) -> str | None:
    """The Prefect state type of the holder's flow run (MISSING if Prefect does not know it)."""
    if not lease.flow_run_id:
        return None
    try:
        run = client.read_flow_run(UUID(lease.flow_run_id))
    except (ObjectNotFound, ValueError):
        return MISSING
    return run.state.type.value if run.state is not None else None


def _take_over(client: SyncPrefectClient, stack: str, stored: _Stored) -> None:
    """Remove a lapsed lease, unless it changed (was renewed) since it was read."""
    again = _read(client, stack)
    if again is not None and again.id == stored.id and again.lease == stored.lease:
        _by_id(client, "DELETE", stored.id)


def _try_once(client: SyncPrefectClient, stack: str, settings: Settings) -> _Attempt:
    """Take the lock if it is free or may be taken over; else say who holds it."""
    for _ in range(3):  # free -> lost the race -> look again; lapsed -> removed -> take
        stored = _read(client, stack)
        now = _now()
        if stored is None:
            run = FlowRunContext.get()
            lease = new_lease(
                stack,
                token=uuid4().hex,
                now=now,
                duration=settings.lock_lease_seconds,
                flow_run_id=str(run.flow_run.id) if run and run.flow_run else None,
                flow_run_name=run.flow_run.name if run and run.flow_run else "",
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            created = _create(client, lease)
            # Confirm: the variable of that name is the one just made, with this lease in it.
            confirmed = _read(client, stack) if created is not None else None
            if confirmed and confirmed.id == created and confirmed.lease.token == lease.token:
                return _Attempt(held=confirmed)
            continue
        reason = takeover_reason(stored.lease, now, _holder_state(client, stored.lease))
        if reason is None:
            return _Attempt(seen=stored.lease)
        run_logger().warning(
            "Taking over the lock of stack %s from %s: %s", stack, stored.lease.holder, reason
        )
        _take_over(client, stack, stored)
    return _Attempt()


def _acquire(client: SyncPrefectClient, stack: str, settings: Settings, timeout: float) -> _Stored:
    """Take the lock, waiting (through the common wait engine) while another run holds it: the
    start line says who holds it and until when, then every KFALB_PROGRESS_INTERVAL_SECONDS what
    was last seen; the bound is KFALB_LOCK_TIMEOUT_SECONDS."""

    def describe(last: _Attempt | None) -> str:
        if last is None or last.seen is None:
            return "the lock kept changing hands"
        return f"{last.seen.describe(_now())}; if that run is gone, `kfalb unlock --stack {stack}`"

    found = wait_for(
        lambda: _try_once(client, stack, settings),
        lambda result: result.held is not None,
        what=f"the lock of stack {stack}",
        bound="lock_timeout_seconds",
        settings=settings.model_copy(update={"lock_timeout_seconds": float(timeout)}),
        describe=describe,
        interval=settings.lock_poll_seconds,
        max_interval=settings.lock_poll_seconds,
        first_seen=True,
    )
    assert found.held is not None
    return found.held


class _Renewer:
    """Renews the lease in the background while the holder lives."""

    def __init__(self, stored: _Stored, duration: float) -> None:
        self.stored, self.duration = stored, duration
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,  # Prefect's settings live in contextvars
            args=(self._run,),
            name=f"kfalb-lock-{stored.lease.stack}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        log = run_logger()
        with get_client(sync_client=True) as client:
            while not self._stop.wait(renew_interval(self.duration)):
                lease = self.stored.lease.renewed(_now(), self.duration)
                try:
                    kept = _by_id(client, "PATCH", self.stored.id,
                                  json={"value": lease.model_dump(mode="json")})  # fmt: skip
                except Exception as error:  # the next renewal may get through
                    log.warning("Could not renew the lock of stack %s: %s", lease.stack, error)
                    continue
                if not kept:
                    self.lost = True
                    return
                self.stored = _Stored(id=self.stored.id, lease=lease)


@contextmanager
def stack_lock(stack: str, *, timeout: float | None = None) -> Iterator[Lease]:
    """Hold the stack's lock: setup, cleanup and remediation of a stack never overlap.

    The lease is renewed in the background and released on exit; a holder that dies (even by
    SIGKILL) blocks others at most `KFALB_LOCK_LEASE_SECONDS`, and not at all once Prefect shows
    its flow run finished (Crashed, Failed, Cancelled or Completed).
    """
    settings = get_settings()
    _checked(stack)
    with get_client(sync_client=True) as client:
        stored = _acquire(client, stack, settings, timeout or settings.lock_timeout_seconds)
    run_logger().info("Holding the lock of stack %s (lease %gs, renewed in the background)",
                      stack, settings.lock_lease_seconds)  # fmt: skip
    renewer = _Renewer(stored, settings.lock_lease_seconds)
    renewer.start()
    try:
        yield stored.lease
    finally:
        renewer.stop()
        try:
            with get_client(sync_client=True) as client:
                released = _by_id(client, "DELETE", stored.id)
        except Exception as error:  # never hide the run's own outcome behind this
            run_logger().warning("Could not release the lock of stack %s (%s); it lapses within "
                                 "%gs.", stack, error, settings.lock_lease_seconds)  # fmt: skip
            released = True
        if renewer.lost or not released:
            run_logger().error(
                "The lock of stack %s was taken over while this run held it (its lease was not "
                "renewed in time, or someone ran `kfalb unlock`): another run may have changed "
                "the stack meanwhile; run drift-check to see where it stands.",
                stack,
            )


def read_lock(stack: str) -> Lease | None:
    """The lease on a stack's lock now, or None when nobody holds it."""
    _checked(stack)  # before a Prefect client (that may start a temporary server)
    with get_client(sync_client=True) as client:
        stored = _read(client, stack)
    return stored.lease if stored else None


def break_lock(stack: str) -> Lease | None:
    """Remove a stack's lock by hand, whoever holds it; returns the lease that was there."""
    _checked(stack)
    with get_client(sync_client=True) as client:
        stored = _read(client, stack)
        if stored is None:
            return None
        _by_id(client, "DELETE", stored.id)
    return stored.lease
