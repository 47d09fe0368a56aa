"""The cluster lock: a crash-safe lease per EKS cluster, held only while a stack writes what the
cluster's stacks share (the controller and its webhook TLS, its IAM role, policy and OIDC
provider, the Pod Identity association, the subnet discovery tags), never across a long wait.

It is the stack lock's lease (tasks/leases.py) in the Prefect Variable
`kfalb-cluster-lock-<cluster>-<digest>`, named after the cluster and its region (two accounts'
clusters of one name and region share it: they wait for each other, which is only slower). A
run that waits says which stack's run holds it. Nested holds in one thread are one hold. It is
taken in Prefect runs, where runs of several stacks meet; a task function called directly
outside any run (a unit test's `.fn`, a shell) works unlocked.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prefect.context import FlowRunContext, TaskRunContext

from core.errors import WaitTimeout
from core.lease import Lease
from core.settings import get_settings
from tasks import leases

VARIABLE_PREFIX = "kfalb-cluster-lock-"
_TAGS = ("kubeflow-alb", "cluster-lock")
#: The cluster locks this thread (context) holds now: a nested hold is the same hold.
_HELD: ContextVar[frozenset[str]] = ContextVar("kfalb_cluster_locks", default=frozenset())


def cluster_key(region: str, cluster_name: str) -> str:
    """How a cluster is named in its lock: `<region>/<name>`."""
    return f"{region}/{cluster_name}"


def lock_variable(region: str, cluster_name: str) -> str:
    """The Prefect Variable holding a cluster's lease (lower-case letters, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", cluster_name.lower()).strip("-")[:40] or "cluster"
    digest = hashlib.sha256(cluster_key(region, cluster_name).encode()).hexdigest()[:10]
    return f"{VARIABLE_PREFIX}{slug}-{digest}"


def cluster_lock_of(region: str, cluster_name: str, *, holder: str = "") -> leases.Lock:
    """The lock of a cluster, as the lease engine takes it for stack `holder`."""
    key = cluster_key(region, cluster_name)
    return leases.Lock(
        variable=lock_variable(region, cluster_name),
        subject=key,
        title=f"the lock of cluster {key}",
        unlock_hint=f"`kfalb unlock --cluster {cluster_name} --region {region}`",
        tags=_TAGS,
        held_for=holder,
    )


def _in_a_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


@contextmanager
def cluster_lease(
    region: str, cluster_name: str, *, holder: str, timeout: float | None = None
) -> Iterator[Lease | None]:
    """Hold the cluster's lock while stack `holder` writes an item the cluster's stacks share.

    Yields the lease (None when not taken: outside a Prefect run, or already held here). A
    waiting run says which stack's run holds it and until when, for at most
    KFALB_LOCK_TIMEOUT_SECONDS (or `timeout`); a holder that dies blocks others at most
    KFALB_LOCK_LEASE_SECONDS, and not at all once Prefect shows its flow run finished.
    """
    variable = lock_variable(region, cluster_name)
    if variable in _HELD.get() or not _in_a_run():
        yield None
        return
    settings = get_settings()
    bound = timeout or settings.lock_timeout_seconds
    token = _HELD.set(_HELD.get() | {variable})
    # Tasks of one process (a run's concurrent steps) take turns here first, handed over at
    # once; the lease in Prefect then only waits for other processes' runs.
    local = _local_lock(variable)
    if not local.acquire(timeout=bound):
        _HELD.reset(token)
        raise WaitTimeout(
            f"Waited {bound:g}s for the lock of cluster {cluster_key(region, cluster_name)}, "
            "held by another step of this process (KFALB_LOCK_TIMEOUT_SECONDS)."
        )
    try:
        with leases.holding(
            cluster_lock_of(region, cluster_name, holder=holder),
            settings=settings,
            duration=settings.lock_lease_seconds,
            timeout=bound,
            quiet=True,
        ) as lease:
            yield lease
    finally:
        local.release()
        _HELD.reset(token)


_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _local_lock(variable: str) -> threading.Lock:
    with _LOCAL_GUARD:
        return _LOCAL.setdefault(variable, threading.Lock())


def break_cluster_lock(region: str, cluster_name: str) -> Lease | None:
    """Remove a cluster's lock by hand, whoever holds it; returns the lease that was there."""
    return leases.break_lease(cluster_lock_of(region, cluster_name))
