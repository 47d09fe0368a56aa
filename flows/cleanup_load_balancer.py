"""The cleanup flow: remove everything a stack created, in reverse order, and prove nothing is left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from prefect import flow, get_run_logger

from core import naming
from core.cleanup import resolve_spec
from core.cleanup_report import (
    cleanup_summary,
    destroy_rows,
    incomplete,
    kept,
    leftover_rows,
    leftovers,
    root_zone_leftovers,
)
from core.cleanup_steps import Outcome, outcome_summary
from core.errors import SpecError
from core.naming import require_stack_name
from core.observation import Observation
from core.resources import ClusterState
from core.spec import StackSpec
from core.state import Kind, StackRecord, StackResource
from core.world_binding import dropped_summary
from flows.observing import observe
from flows.outcomes import expected_outcomes
from flows.walk import teardown
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.eks import observe_cluster
from tasks.aws.root_dns import observe_root_refusal
from tasks.aws.world_binding import bind_store, drop_missing_ids, observe_world
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import KubeTarget, cluster_target
from tasks.kinds import Env
from tasks.observe import look_at
from tasks.reporting import publish_api_calls, publish_markdown, publish_table
from tasks.schedules import pause_drift_schedules
from tasks.stack_block import (
    StackStore,
    delete_record,
    load_record,
    remove_lock_leftovers,
    stack_lock,
)


@flow(name="cleanup-load-balancer", log_prints=False)
@expected_outcomes
def cleanup_load_balancer(
    stack: str | None = None,
    spec: StackSpec | None = None,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    adopt_block: bool = False,
) -> dict[str, list[str]]:
    """Remove every resource the stack created, in reverse dependency order, and report what is
    left (the goal: nothing). Pre-existing resources setup adopted are left and listed.

    Works from the stack's saved block, or, when the block is lost, from the spec alone by the
    stack's ownership tags and labels. Re-running is safe: a clean stack makes no change.

    Args:
        stack: the stack's name (its saved block); may be empty when a spec is given.
        spec: the stack's spec; needed when the block is lost.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        adopt_block: move a block saved in another AWS account or cluster to this one (its old
            ids are forgotten; what is here is found by the stack's tags). Default: refuse it.
    """
    name = stack or (spec.name if spec is not None else None)
    if not name:
        raise SpecError("Name the stack to clean up, or pass its spec.")
    require_stack_name(name, source="stack")  # before it names a lock or a block
    with stack_lock(name):
        record = load_record(name)
        spec = resolve_spec(name, spec, record)
        ctx = AwsContext(
            region=spec.region, credentials_block=aws_credentials_block, scope=spec.name
        )
        return _cleanup(spec, record, ctx, kube_access, adopt_block=adopt_block)


def _cleanup(
    spec: StackSpec,
    record: StackRecord | None,
    ctx: AwsContext,
    kube_access: KubeAccess,
    *,
    adopt_block: bool,
) -> dict[str, list[str]]:
    logger = get_run_logger()
    calls_before = api_calls()
    store = StackStore(record) if record is not None else None
    missing: tuple[StackResource, ...] = ()
    if store is not None:
        # Only ids of this world, and only those that still exist (a zone's records go with it).
        bind_store(store, observe_world(ctx, spec.cluster.name), adopt=adopt_block)
        missing = drop_missing_ids(ctx, store)
        record = store.set_phase("cleaning-up")
    else:
        logger.warning("No saved block for stack %s: finding its resources by their tags and "
                       "labels only.", spec.name)  # fmt: skip
    cluster = observe_cluster(ctx, spec.cluster.name)
    target = _kube_target(kube_access, cluster, ctx)
    # A root zone whose role refuses us does not stop cleanup: all else goes, the root zone's
    # records and the zone they point at stay, and the end names the change to make by hand.
    refused = observe_root_refusal(ctx, spec)
    if refused:
        logger.warning("The root zone's role cannot be assumed (%s): removing everything else; "
                       "its records and the zone they delegate to stay.", refused)  # fmt: skip

    def look() -> Observation:
        return observe(spec, ctx=ctx, cluster=cluster, target=target, record=record, sweep=True,
                       root_refused=refused)  # fmt: skip

    env = Env(spec=spec, ctx=ctx, target=target, cluster=cluster, seen=look(), record=record)
    outcome, final = _torn_down(env, look, store)
    left, keep = leftovers(spec.name, final, record), kept(spec.name, final, record)
    reasons = outcome.reasons()
    root_zone_id = final.root_zone.zone_id if final.root_zone else None
    notes = _notes(spec, cluster, root_zone_id, record)
    if missing:
        notes.append(f"Recorded but no longer there (dropped from the block): "
                     f"{dropped_summary(missing)}.")  # fmt: skip
    publish_markdown(spec.name, "leftovers", cleanup_summary(spec.name, left, keep, notes, reasons),
                     f"What is left of stack {spec.name}")  # fmt: skip
    publish_table(spec.name, "leftovers-table", leftover_rows(left, keep, reasons),
                  f"Resources of stack {spec.name} still present after cleanup")  # fmt: skip
    calls = api_calls().since(calls_before)
    publish_api_calls(spec.name, calls)
    if any(left.values()) or not outcome.complete:
        raise incomplete(spec.name, left, outcome_summary(outcome),
                         by_hand=root_zone_leftovers(final, record))  # fmt: skip
    if store is not None:
        delete_record(spec.name)
    remove_lock_leftovers(spec.name)  # the lease itself goes when the lock is released
    # Its scheduled drift checks would now fail every hour: pause them (resumable).
    pause_drift_schedules(spec.name)
    logger.info("Stack %s is gone (%d mutating AWS calls)", spec.name, calls.mutating)
    return left


def destroy_preview(
    spec: StackSpec,
    record: StackRecord | None,
    credentials_block: str | None = None,
    *,
    kube_access: KubeAccess = "kubeconfig",
) -> list[dict[str, str]]:
    """What a cleanup of the stack would delete, let go of and leave, and why (read only, no
    Prefect run: `kfalb plan --destroy` and cleanup's confirmation show it)."""
    ctx = AwsContext(region=spec.region, credentials_block=credentials_block)
    cluster = observe_cluster.fn(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx) if cluster is not None else None
    refused = observe_root_refusal.fn(ctx, spec)
    seen = look_at(ctx, spec, cluster, target, record=record, sweep=True, root_refused=refused)
    return destroy_rows(spec.name, seen, record)


def _kube_target(
    kube_access: KubeAccess, cluster: ClusterState | None, ctx: AwsContext
) -> KubeTarget | None:
    if cluster is None:
        get_run_logger().warning("The EKS cluster is gone: nothing to clean up in Kubernetes.")
        return None
    return cluster_target(kube_access, cluster, ctx)


def _notes(
    spec: StackSpec,
    cluster: ClusterState | None,
    root_zone_id: str | None,
    record: StackRecord | None,
) -> list[str]:
    notes = []
    if record is None:
        notes.append("The stack's block was lost: resources were found by ownership tags and "
                     f"labels ({naming.STACK_TAG}={spec.name}) and subnet tag markers only.")  # fmt: skip
    if cluster is None:
        notes.append(
            f"EKS cluster {spec.cluster.name} does not exist: Kubernetes was not looked at."
        )
    if root_zone_id is None:
        notes.append(f"{spec.root} is not in Route53: remove the NS records of {spec.subdomain} "
                     f"and any validation CNAMEs you added at its DNS provider by hand.")  # fmt: skip
    return notes


def _torn_down(
    env: Env, look: Callable[[], Observation], store: StackStore | None
) -> tuple[Outcome, Observation]:
    """Remove everything, then look again. What the second look still finds after a complete
    pass was released meanwhile (a validation record shared with another stack whose cleanup
    deleted its certificate after this one's look, but not yet the record): one more pass
    removes it, as a re-run of cleanup would."""
    outcome = teardown(env, on_done=lambda kind: _forget(store, kind))
    final = look()
    if outcome.complete and any(leftovers(env.spec.name, final, env.record).values()):
        get_run_logger().info("Stack %s: found again after removal: one more pass", env.spec.name)
        outcome = teardown(replace(env, seen=final), on_done=lambda kind: _forget(store, kind))
        final = look()
    return outcome, final


def _forget(store: StackStore | None, kind: Kind) -> None:
    """Drop the owned resources of a kind from the record once its removal is done."""
    if store is None:
        return
    done = [item.id for item in store.record.of_kind(kind) if item.owned]
    if done:
        store.remove(kind, *done)
