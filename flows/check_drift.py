"""The drift check: every item of a stack against its desired state; on request, re-apply the drift."""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.futures import PrefectFuture, as_completed
from prefect.utilities.annotations import quote

from core.approval import approval_needed
from core.errors import DriftDetected, ResourceNotFound
from core.observation import Observation
from core.plan import Plan
from core.plan_output import drift_rows, drift_text, drifted_names, plan_document
from core.plan_review import gate
from core.resources import ClusterState
from core.shards import split
from core.spec import StackSpec, parse_spec
from core.state import Kind, StackRecord
from flows.approval import approved_digest
from flows.fleet_look import looks_clean, stack_access
from flows.fleet_shards import SHARD_DEPLOYMENT, run_shards
from flows.observing import observe, stack_plan
from flows.outcomes import expected_outcomes
from flows.recording import Recorder
from flows.walk import apply
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.eks import observe_cluster
from tasks.aws.world_binding import bind_observed, check_observed_world
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import KubeTarget, cluster_target
from tasks.kinds import Env
from tasks.observe import look_at
from tasks.plan_review import review_stack_plan
from tasks.prefect_api import (
    PREFECT_API_RETRY_FACTORS,
    is_prefect_api_transient,
    prefect_api_retry_delays,
    retry_on_prefect_api,
)
from tasks.preflight_stacks import preflight_owners
from tasks.reporting import publish_drift, publish_table, repair_hint
from tasks.stack_block import StackStore, load_record, saved_records, stack_lock

DRIFT_EVENT = "kubeflow-alb.drift.detected"
REMEDIATED_EVENT = "kubeflow-alb.drift.remediated"


@flow(name="drift-check", log_prints=False)
@expected_outcomes
def check_drift(
    stack: str | None = None,
    spec: StackSpec | None = None,
    remediate: bool = False,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    kube_context: str | None = None,
    approval: bool | None = None,
    publish_clean: bool = True,
) -> dict[str, Any]:
    """Compare every resource of a stack with its desired state (read only) and publish the table.
    On drift, emit `kubeflow-alb.drift.detected` and fail; with remediate, re-apply only what
    drifted, check again, and succeed once nothing differs.

    Args:
        stack: name of a saved stack (its spec comes from the stack's block).
        spec: the stack's spec; needed only when the stack has no block.
        remediate: re-apply the drifted items (holds the stack's lock while doing so).
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        kube_context: kubeconfig context of the stack's cluster; empty: KFALB_KUBE_CONTEXT or
            the current context.
        approval: with remediate, wait for a reviewer to approve the repair in the UI first
            (empty: as stack.approval says).
        publish_clean: publish the drift table when nothing drifted too (a fleet's lists all).
    """
    logger = get_run_logger()
    record = load_record(stack or (spec.name if spec else ""))
    spec = spec or _saved_spec(stack, record)
    # Scoped by the stack: a fleet check in one process counts each stack's calls apart.
    ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block, scope=spec.name)
    cluster = observe_cluster(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx, kube_context)
    seen = observe(spec, ctx=ctx, cluster=cluster, target=target, record=record)
    check_observed_world(record, seen, region=spec.region)  # a block of another account: refused
    result = stack_plan(spec, seen)
    _publish(spec.name, result, "Drift check", clean_too=publish_clean)
    outputs: dict[str, Any] = {"stack": spec.name, "drifted": list(drifted_names(result))}
    if result.converged:
        logger.info("Stack %s: no drift in %d items", spec.name, len(result.changes))
        return {**outputs, "status": "ok", "repaired": []}
    _announce(DRIFT_EVENT, spec.name, result, remediate=remediate)
    if remediate and target is not None:
        # Without remediation the run's failure says this once (one line in the UI, not two).
        logger.warning("Stack %s drifted: %s", spec.name, ", ".join(drifted_names(result)))
        approved = _approved(spec, approval, seen, result)
        repaired, after = _remediate(spec, ctx, cluster, target, approved=approved)
        if after.converged:
            _announce(REMEDIATED_EVENT, spec.name, result, remediate=True)
            logger.info("Stack %s: drift repaired (%s)", spec.name, ", ".join(outputs["drifted"]))
            return {**outputs, "status": "repaired", "repaired": repaired}
        result = after
    names = drifted_names(result)
    raise DriftDetected(
        f"Stack {spec.name} drifted: {', '.join(names)}. See the '{spec.name}-drift-changes' "
        f"artifact; {repair_hint(spec.name)}",
        items=names,
        document=plan_document(spec.name, result, command="drift"),
    )


def _remediate(
    spec: StackSpec,
    ctx: AwsContext,
    cluster: ClusterState | None,
    target: KubeTarget,
    *,
    approved: str | None,
) -> tuple[list[str], Plan]:
    """Under the stack's lock, plan again (the stack may have changed since the check; with an
    approval, it must still be the plan approved), re-apply what drifted, check again. Returns
    the kinds repaired and the plan after."""
    calls = api_calls()
    with stack_lock(spec.name):
        store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))
        seen = observe(spec, ctx=ctx, cluster=cluster, target=target, record=store.record)
        bind_observed(store, seen, cluster, region=spec.region)
        todo = stack_plan(spec, seen)
        gate(review_stack_plan(spec, seen, todo), approved=approved)  # stale, or mandatory policy
        recorded = [item.id for item in store.record.of_kind(Kind.DNS_RECORD)]
        preflight_owners(ctx, target, spec, seen, recorded=recorded)  # as setup's preflight
        env = Env(spec=spec, ctx=ctx, target=target, cluster=cluster, seen=seen,
                  record=store.record, todo=todo)  # fmt: skip
        applied = apply(env, Recorder(store))
        seen = observe(spec, ctx=ctx, cluster=cluster, target=target, record=store.record)
    changed = api_calls().since(calls).mutating
    done = [{"repair": kind.value, "items": ", ".join(sorted(todo.keys_to_fix(kind)))}
            for kind in applied.kinds]  # fmt: skip
    publish_table(spec.name, "drift-remediation", done or [{"repair": "-", "items": "nothing to re-apply"}],
                  f"What remediation re-applied ({changed} mutating AWS calls)")  # fmt: skip
    after = stack_plan(spec, seen)
    _publish(spec.name, after, "After remediation")
    return [row["repair"] for row in done], after


@flow(name="drift-check-fleet", log_prints=False)
@expected_outcomes
def check_drift_fleet(
    remediate: bool = False,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    max_concurrent: int = 8,
    shards: int = 0,
    shard_deployment: str = SHARD_DEPLOYMENT,
) -> dict[str, str]:
    """Drift-check every saved stack, `max_concurrent` at a time; fail if any drifted (or could
    not be checked). The table artifact gives each stack's own AWS API calls.

    Args:
        remediate: re-apply what drifted in each stack.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        max_concurrent: how many stacks are checked at once (per shard with shards).
        shards: split the fleet into this many shards, each a run of `shard_deployment` on its
            work pool (its workers share the fleet); 0: check every stack in this run.
        shard_deployment: the deployment of the `drift-check-shard` flow the shards run as.
    """
    records = saved_records()  # one request for the fleet's blocks
    stacks = sorted(records)
    options = {"remediate": remediate, "aws_credentials_block": aws_credentials_block,
               "kube_access": kube_access, "max_concurrent": max_concurrent}  # fmt: skip
    if shards > 0:
        rows = run_shards(split(stacks, shards), shard_deployment, options)
    else:
        rows = _check_stacks(stacks, remediate=remediate,
                             aws_credentials_block=aws_credentials_block,
                             kube_access=kube_access, max_concurrent=max_concurrent,
                             records=records)  # fmt: skip
    delays = prefect_api_retry_delays()
    table = _publish_fleet.with_options(retry_delay_seconds=delays)(
        rows or [{"stack": "-", "result": "no saved stacks"}],
        f"Drift of {len(stacks)} saved stacks", return_state=True,
    )  # fmt: skip
    if table.is_failed():  # the Prefect API kept failing: the results still stand
        get_run_logger().warning("The fleet's table artifact could not be saved: %s", table.message)
    results = {row["stack"]: row["result"] for row in rows}
    failed = tuple(name for name, status in results.items() if status not in ("ok", "repaired"))
    if failed:
        raise DriftDetected(
            f"{len(failed)} of {len(stacks)} stacks drifted or could not be checked: "
            + "; ".join(f"{name}: {results[name]}" for name in failed),
            items=failed,
        )
    return results


@flow(name="drift-check-shard", log_prints=False, persist_result=True)
def check_drift_shard(
    stacks: list[str],
    remediate: bool = False,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    max_concurrent: int = 8,
) -> list[dict[str, str]]:
    """Drift-check one shard of a fleet (started by `drift-check-fleet` with shards): each
    stack's result and AWS calls, for the fleet's one table. Drifted stacks get their own
    artifact and event; the run itself does not fail on drift (the fleet's run does).

    Args:
        stacks: the saved stacks of this shard.
        remediate: re-apply what drifted in each stack.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        max_concurrent: how many stacks are checked at once.
    """
    return _check_stacks(stacks, remediate=remediate, aws_credentials_block=aws_credentials_block,
                         kube_access=kube_access, max_concurrent=max_concurrent,
                         records=saved_records())  # fmt: skip


def _check_stacks(
    stacks: list[str],
    *,
    remediate: bool,
    aws_credentials_block: str | None,
    kube_access: KubeAccess,
    max_concurrent: int,
    records: dict[str, StackRecord],
) -> list[dict[str, str]]:
    """Each stack's check in this run, `max_concurrent` at a time: its table row. `records`:
    the saved stacks' records, read once for the fleet (quoted: Prefect need not visit them)."""
    before = {name: api_calls(scope=name) for name in stacks}
    check = _check_one.with_options(retry_delay_seconds=prefect_api_retry_delays())
    results = _check_all(stacks, max_concurrent,
                         lambda name: check.submit(name, remediate, aws_credentials_block,
                                                   kube_access, quote(records.get(name))))  # fmt: skip
    calls = {name: api_calls(scope=name).since(before[name]) for name in stacks}
    return [{"stack": name, "result": results[name],
             "aws calls": str(calls[name].reads + calls[name].mutating)}
            for name in stacks]  # fmt: skip


# A check the Prefect API broke (a 503 or a timeout creating its run, its artifact, ...) is run
# again: it is read only, and a remediation re-plans under the stack's lock. Never cached.
@task(
    name="drift-check-stack",
    cache_policy=NO_CACHE,
    retries=len(PREFECT_API_RETRY_FACTORS),
    retry_condition_fn=retry_on_prefect_api,
)
def _check_one(
    stack: str,
    remediate: bool,
    aws_credentials_block: str | None,
    kube_access: KubeAccess,
    record: StackRecord | None = None,
) -> str:
    """One stack's drift check, with the stack's own recorded access (else the fleet's): a
    quick look in this task, and for a stack not found clean the full check as a subflow
    (artifacts, event, remediation): ok, repaired, drifted (with the items) or error. A
    Prefect API failure is raised, for the task's retries."""
    try:
        record = record or load_record(stack)
        access = stack_access(
            record.access if record else None,
            credentials_block=aws_credentials_block,
            kube_access=kube_access,
        )
        if looks_clean(stack, record, access):
            return "ok"
        outputs = check_drift(
            stack=stack,
            remediate=remediate,
            aws_credentials_block=access.credentials_block,
            kube_access=cast(KubeAccess, access.kube_access),
            kube_context=access.kube_context,
            publish_clean=False,
            return_state=True,
        ).result()
    except DriftDetected as error:
        return "drifted: " + ", ".join(error.items)
    except Exception as error:  # one stack's failure is reported, the others still count
        if is_prefect_api_transient(error):
            raise
        return f"error: {error}"
    return str(outputs["status"])  # fmt: skip


@task(
    name="publish-fleet-table",
    cache_policy=NO_CACHE,
    retries=len(PREFECT_API_RETRY_FACTORS),
    retry_condition_fn=retry_on_prefect_api,
)
def _publish_fleet(rows: list[dict[str, str]], description: str) -> None:
    """The fleet's table artifact (`fleet-drift`): one row per stack."""
    publish_table("fleet", "drift", rows, description)


def _check_all(
    stacks: list[str], max_concurrent: int, submit: Callable[[str], PrefectFuture[str]]
) -> dict[str, str]:
    """Each stack's check, `max_concurrent` at a time: a window, not waves (a stack starts as
    soon as any running check ends). A stack whose check cannot start or fails for good is
    reported as an error; the others go on."""
    results: dict[str, str] = {}
    waiting = iter(stacks)
    running: dict[PrefectFuture[str], str] = {}
    while True:
        for name in islice(waiting, max(1, max_concurrent) - len(running)):
            try:
                running[submit(name)] = name
            except Exception as error:  # one stack that cannot start is not the fleet's end
                results[name] = _failed(name, error)
        if not running:
            return results
        done = next(as_completed(list(running)))
        name = running.pop(done)
        try:
            results[name] = done.result()
        except Exception as error:  # its retries spent: the stack failed, the others go on
            results[name] = _failed(name, error)


def _failed(stack: str, error: BaseException) -> str:
    get_run_logger().error("Stack %s could not be checked: %s", stack, error)
    return f"error: {error}"


def observe_plan(
    spec: StackSpec, credentials_block: str | None = None, *, kube_access: KubeAccess = "kubeconfig"
) -> tuple[Observation, Plan]:
    """What setup would create, change or keep, and the observation it was planned from (its
    review reads it): the drift check's reads and planner, without a Prefect run (so `kfalb
    plan` needs no server). Works before anything exists."""
    ctx = AwsContext(region=spec.region, credentials_block=credentials_block)
    cluster = observe_cluster.fn(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx)
    seen = look_at(ctx, spec, cluster, target)
    return seen, stack_plan(spec, seen)


def _saved_spec(stack: str | None, record: StackRecord | None) -> StackSpec:
    if not stack:
        raise ResourceNotFound("Name a saved stack or give its spec to check it for drift.")
    if record is None or not record.spec:
        raise ResourceNotFound(
            f"No saved stack {stack!r} (a LoadBalancerStack block of that name); run setup first, "
            "or pass the stack's spec."
        )
    return parse_spec(record.spec)


def _publish(stack: str, result: Plan, what: str, *, clean_too: bool = True) -> None:
    if clean_too or not result.converged:
        publish_drift(stack, result, what)


def _approved(
    spec: StackSpec, approval: bool | None, seen: Observation, result: Plan
) -> str | None:
    """The digest of the remediation a reviewer approved, when an approval is needed."""
    if not approval_needed(spec, approval, result):
        return None
    return approved_digest(review_stack_plan(spec, seen, result), result, what="remediation")


def _announce(event: str, stack: str, result: Plan, *, remediate: bool) -> None:
    """A Prefect event automations can trigger on (notify, open a ticket, run remediation)."""
    emit_event(
        event=event,
        resource={
            "prefect.resource.id": f"kubeflow-alb.stack.{stack}",
            "prefect.resource.name": stack,
            "kubeflow-alb.stack": stack,
        },  # fmt: skip
        payload={
            "drifted": drift_rows(result),
            "summary": drift_text(stack, result),
            "remediate": remediate,
        },
    )
