"""One look at a stack (read only): each kind's observe verb (tasks/kinds), in the order their
reads need each other, together where they do not. Setup, drift, `kfalb plan` and the fleet
read a stack through it; cleanup's look also sweeps by the stack's marks."""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from core.kinds import TABLE, desired_items
from core.observation import Observation
from core.resources import CallerIdentity, ClusterState
from core.spec import StackSpec
from core.state import Kind, StackRecord
from tasks.aws.clients import AwsContext
from tasks.aws.sts import observe_caller_identity
from tasks.k8s.clients import KubeTarget
from tasks.kinds import VERBS, Look
from tasks.kinds.sweep import sweep_stack
from tasks.logs import run_logger
from tasks.retry import retrying_task

#: Reads of one stack at once (each a few API calls).
READERS = 6


def look_at(
    ctx: AwsContext,
    spec: StackSpec,
    cluster: ClusterState | None,
    target: KubeTarget | None,
    *,
    record: StackRecord | None = None,
    sweep: bool = False,
    root_refused: str = "",
) -> Observation:
    """Read every item of the stack (read only): zones, delegation, certificates and their
    records, subnet tags, the controller and its IAM, the Ingress, the ALB, DNS and HTTPS —
    each kind once what its reads need is read, together where they do not. `root_refused`:
    the root zone's role refused us (cleanup): the root zone's items are as the record says."""
    started = time.monotonic()
    caller: CallerIdentity = observe_caller_identity.fn(ctx)
    seen = Observation(observed_at=datetime.now(UTC), identity=caller, cluster=cluster,
                       root_refused=root_refused)  # fmt: skip
    base = Look(spec=spec, ctx=ctx, cluster=cluster, target=target, identity=caller,
                record=record, found=seen, sweeping=sweep)  # fmt: skip
    seen = _walk(base)
    if sweep:
        seen = seen.model_copy(update={"sweep": sweep_stack(_with(base, seen))})
    items = len(desired_items(spec, seen))
    run_logger().info("Observed stack %s: %d items in %.1f s", spec.name, items,
                      time.monotonic() - started)  # fmt: skip
    return seen


def _with(base: Look, seen: Observation) -> Look:
    return Look(spec=base.spec, ctx=base.ctx, cluster=base.cluster, target=base.target,
                identity=base.identity, record=base.record, found=seen,
                sweeping=base.sweeping)  # fmt: skip


def _walk(base: Look) -> Observation:
    """The kinds' reads over the graph of what each read needs (Verbs.observe_after)."""
    seen, lock = base.found, threading.Lock()
    pending = [kind for kind in TABLE if kind in VERBS]
    done: set[Kind] = set()
    running: dict[Future[dict[str, Any]], Kind] = {}
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        while pending or running:
            for kind in [k for k in pending if set(VERBS[k].observe_after) <= done]:
                pending.remove(kind)
                with lock:
                    look = _with(base, seen)
                call = contextvars.copy_context().run
                running[pool.submit(call, _read, kind, look)] = kind
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                kind = running.pop(future)
                update = future.result()  # a failed read fails the look, with its own error
                with lock:
                    seen = seen.model_copy(update=update)
                done.add(kind)
    return seen


def _read(kind: Kind, look: Look) -> dict[str, Any]:
    return VERBS[kind].observe(look)


#: The look as one Prefect task of a flow run (its reads run together inside it).
observe_stack = retrying_task(look_at).with_options(name="observe-stack")
