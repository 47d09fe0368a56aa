"""A fleet's quick look at one stack: the drift check's reads and plan, inside the fleet's task
for the stack, without a subflow or task runs of its own. Only a stack it does not find clean
gets the full drift check (its runs, artifacts, event, retries and error)."""

from __future__ import annotations

from typing import cast

from core.kinds import stack_plan
from core.spec import parse_spec
from core.state import StackAccess, StackRecord
from tasks.aws.clients import AwsContext, calls_of
from tasks.aws.eks import observe_cluster
from tasks.aws.world_binding import check_observed_world
from tasks.k8s.clients import AccessMode, cluster_target
from tasks.logs import run_logger
from tasks.observe import look_at


def looks_clean(stack: str, record: StackRecord | None, access: StackAccess) -> bool:
    """True when one look at the saved stack, with its recorded access, plans nothing: the same
    reads, world check and `plan()` as the drift check, its AWS calls counted (and named in
    their User-Agent) under the stack's name. False
    for anything else (drift, no record, an error of any kind): the caller then runs the full
    check, which says what drifted or failed."""
    if record is None or not record.spec:
        return False
    try:
        spec = parse_spec(record.spec)
        # The account's clients, shared by the fleet's stacks; their calls counted per stack.
        ctx = AwsContext(region=spec.region, credentials_block=access.credentials_block)
        with calls_of(spec.name):
            cluster = observe_cluster.fn(ctx, spec.cluster.name)
            kube = cast(AccessMode, access.kube_access)
            target = cluster_target(kube, cluster, ctx, access.kube_context)
            seen = look_at(ctx, spec, cluster, target, record=record)
        check_observed_world(record, seen, region=spec.region)
        result = stack_plan(spec, seen)
    except Exception as error:  # the full check retries, reports and names what failed
        run_logger().info("Stack %s: quick look failed (%s); checking it in full", stack, error)
        return False
    if result.converged:
        run_logger().info("Stack %s: no drift in %d items", stack, len(result.changes))
    return result.converged


def stack_access(
    recorded: StackAccess | None, *, credentials_block: str | None, kube_access: str
) -> StackAccess:
    """The access a fleet check uses for one stack: what its setup recorded (its credentials
    block, region, account, kube access and context), else the fleet's own parameters."""
    if recorded is not None:
        return recorded
    return StackAccess(credentials_block=credentials_block, kube_access=kube_access)
