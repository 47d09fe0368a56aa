"""Crash-safe leases kept in Prefect Variables every runner sees: the engine of the stack's lock
(tasks/stack_lock.py) and of the cluster's lock (tasks/cluster_lock.py).

Taking a lock creates its variable; Prefect refuses a second variable of the same name, so of
two takers exactly one succeeds. The variable's id changes with every acquisition and serves as
its version: a lapsed lease is removed by id (a second taker's delete of the same id finds
nothing), and renewing by id fails once someone else has taken over.
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

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import VariableCreate
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from pydantic import ValidationError

from core.lease import MISSING, Lease, new_lease, renew_interval, takeover_reason
from core.settings import Settings
from core.waits import WAITS
from tasks.logs import run_logger
from tasks.prefect_api import prefect_client
from tasks.waits import wait_for

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lock:
    """One lock: its Prefect Variable, how messages name it, and how to break it by hand."""

    variable: str
    subject: str  # the Lease's `stack`: a stack's name, or a cluster's key
    title: str  # "the lock of stack X": how messages name it
    unlock_hint: str  # what to run when its holder is gone
    tags: tuple[str, ...] = ()
    held_for: str = ""  # the stack taking it (a cluster's lock)

    @property
    def capitalised(self) -> str:
        return self.title[:1].upper() + self.title[1:]


@dataclass(frozen=True)
class Stored:
    id: UUID
    lease: Lease


@dataclass(frozen=True)
class _Attempt:
    held: Stored | None = None
    seen: Lease | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def read(client: SyncPrefectClient, lock: Lock) -> Stored | None:
    variable = client.read_variable_by_name(lock.variable)
    if variable is None:
        return None
    try:
        lease = Lease.model_validate(variable.value)
    except ValidationError:  # not ours to understand: treat as long lapsed
        lease = Lease(stack=lock.subject, token="?", since=_EPOCH, expires=_EPOCH)
    return Stored(id=variable.id, lease=lease)


def create(client: SyncPrefectClient, variable: str, lease: Lease, tags: list[str]) -> UUID | None:
    value: Any = lease.model_dump(mode="json")
    try:
        return client.create_variable(VariableCreate(name=variable, value=value, tags=tags)).id
    except ObjectAlreadyExists:
        return None


def by_id(client: SyncPrefectClient, method: str, variable_id: UUID, **kwargs: Any) -> bool:
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


def _take_over(client: SyncPrefectClient, lock: Lock, stored: Stored) -> None:
    """Remove a lapsed lease, unless it changed (was renewed) since it was read."""
    again = read(client, lock)
    if again is not None and again.id == stored.id and again.lease == stored.lease:
        by_id(client, "DELETE", stored.id)


def _new(lock: Lock, duration: float) -> Lease:
    run = FlowRunContext.get()
    return new_lease(
        lock.subject,
        token=uuid4().hex,
        now=_now(),
        duration=duration,
        flow_run_id=str(run.flow_run.id) if run and run.flow_run else None,
        flow_run_name=run.flow_run.name if run and run.flow_run else "",
        host=socket.gethostname(),
        pid=os.getpid(),
        held_for=lock.held_for,
    )


def _try_once(client: SyncPrefectClient, lock: Lock, duration: float) -> _Attempt:
    """Take the lock if it is free or may be taken over; else say who holds it."""
    for _ in range(3):  # free -> lost the race -> look again; lapsed -> removed -> take
        stored = read(client, lock)
        if stored is None:
            lease = _new(lock, duration)
            created = create(client, lock.variable, lease, list(lock.tags))
            # Confirm: the variable of that name is the one just made, with this lease in it.
            confirmed = read(client, lock) if created is not None else None
            if confirmed and confirmed.id == created and confirmed.lease.token == lease.token:
                return _Attempt(held=confirmed)
            continue
        reason = takeover_reason(stored.lease, _now(), _holder_state(client, stored.lease))
        if reason is None:
            return _Attempt(seen=stored.lease)
        run_logger().warning("Taking over %s from %s: %s", lock.title, stored.lease.holder, reason)
        _take_over(client, lock, stored)
    return _Attempt()


def acquire(
    client: SyncPrefectClient,
    lock: Lock,
    *,
    settings: Settings,
    duration: float,
    timeout: float,
) -> Stored:
    """Take the lock, waiting (through the common wait engine) while another run holds it: the
    start line says who holds it and until when, then every KFALB_PROGRESS_INTERVAL_SECONDS what
    was last seen; the bound is KFALB_LOCK_TIMEOUT_SECONDS (or `timeout`)."""

    def describe(last: _Attempt | None) -> str:
        if last is None or last.seen is None:
            return "the lock kept changing hands"
        return f"{last.seen.describe(_now())}; if that run is gone, {lock.unlock_hint}"

    found = wait_for(
        WAITS.lock.of(lock.title),
        lambda: _try_once(client, lock, duration),
        until=lambda result: result.held is not None,
        settings=settings.model_copy(update={"lock_timeout_seconds": float(timeout)}),
        describe=describe,
    )
    assert found.held is not None
    return found.held


class Renewer:
    """Renews the lease in the background while the holder lives."""

    def __init__(self, stored: Stored, duration: float, lock: Lock) -> None:
        self.stored, self.duration, self.lock = stored, duration, lock
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,  # Prefect's settings live in contextvars
            args=(self._run,),
            name=lock.variable,
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        log = run_logger()
        with prefect_client() as client:
            while not self._stop.wait(renew_interval(self.duration)):
                lease = self.stored.lease.renewed(_now(), self.duration)
                try:
                    kept = by_id(
                        client,
                        "PATCH",
                        self.stored.id,
                        json={"value": lease.model_dump(mode="json")},
                    )
                except Exception as error:  # the next renewal may get through
                    log.warning("Could not renew %s: %s", self.lock.title, error)
                    continue
                if not kept:
                    self.lost = True
                    return
                self.stored = Stored(id=self.stored.id, lease=lease)


@contextmanager
def holding(
    lock: Lock,
    *,
    settings: Settings,
    duration: float,
    timeout: float,
    quiet: bool = False,
) -> Iterator[Lease]:
    """Hold the lock: renewed in the background, released on exit (a release that fails is
    only logged: the lease lapses within `duration`). `quiet`: no line when taken."""
    with prefect_client() as client:
        stored = acquire(client, lock, settings=settings, duration=duration, timeout=timeout)
    log = run_logger()
    if not quiet:
        log.info("Holding %s (lease %gs, renewed in the background)", lock.title, duration)
    renewing = Renewer(stored, duration, lock)
    renewing.start()
    try:
        yield stored.lease
    finally:
        renewing.stop()
        try:
            with prefect_client() as client:
                released = by_id(client, "DELETE", stored.id)
        except Exception as error:  # never hide the run's own outcome behind this
            log.warning(
                "Could not release %s (%s); it lapses within %gs.", lock.title, error, duration
            )
            released = True
        if renewing.lost or not released:
            log.error(
                "%s was taken over while this run held it (its lease was not renewed in time, "
                "or someone broke it by hand): another run may have changed what it guards "
                "meanwhile; run drift-check to see where it stands.",
                lock.capitalised,
            )


def break_lease(lock: Lock) -> Lease | None:
    """Remove a lock by hand, whoever holds it; returns the lease that was there."""
    with prefect_client() as client:
        stored = read(client, lock)
        if stored is None:
            return None
        by_id(client, "DELETE", stored.id)
    return stored.lease
