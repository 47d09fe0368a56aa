"""The setup flow: from an EKS cluster with Kubeflow to https://kubeflow.<subdomain>/ answering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import cast

from prefect import flow, get_run_logger

from core import identity
from core.approval import approval_needed
from core.desired import dashboard_url
from core.errors import PreflightError
from core.plan import Plan
from core.plan_review import PlanReview, gate
from core.report import setup_summary, stack_outputs
from core.resources import ApiCallCounts, ClusterState
from core.settings import get_settings
from core.spec import StackSpec
from core.state import Kind, StackAccess
from flows.approval import approved_digest
from flows.observing import observe, publish_plan, stack_plan, summary
from flows.outcomes import expected_outcomes
from flows.recording import Recorder
from flows.walk import apply, checks
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.ec2 import preflight_subnets
from tasks.aws.eks import preflight_cluster
from tasks.aws.root_dns import preflight_root_dns
from tasks.aws.route53 import refuse_foreign_zone
from tasks.aws.world_binding import bind_observed
from tasks.concurrent import together
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import KubeTarget, cluster_target
from tasks.k8s.ingress import preflight_kubernetes
from tasks.k8s.manifests import check_manifests
from tasks.kinds import Env
from tasks.plan_review import review_stack_plan
from tasks.preflight_stacks import preflight_owners
from tasks.reporting import publish_api_calls, publish_link, publish_markdown, publish_resources
from tasks.schedules import resume_drift_schedules
from tasks.stack_block import StackStore, register_block_type, stack_lock


@flow(name="setup-load-balancer", log_prints=False)
@expected_outcomes
def setup_load_balancer(
    spec: StackSpec,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    adopt_block: bool = False,
    approved_plan_digest: str | None = None,
    approval: bool | None = None,
) -> dict[str, str]:
    """Expose Kubeflow over an ALB with HTTPS: zone, delegation, certificates, IAM, controller,
    Ingress, DNS record, and a check that the dashboard answers. Re-running converges.

    Args:
        spec: the stack: the original guide's config.yaml shape plus kubeflow-alb options.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        adopt_block: move a block saved in another AWS account or cluster to this one (its old
            ids are forgotten; they stay in the other world).
        approved_plan_digest: apply only if the plan made now has this digest (`kfalb plan
            --out` saves it); otherwise stop as a stale plan with nothing applied.
        approval: wait for a reviewer to approve the plan in the UI before applying it (empty:
            as stack.approval says; a plan given by digest is approved already).
    """
    ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block, scope=spec.name)
    with stack_lock(spec.name):
        ready = _prepare(spec, ctx, kube_access, adopt=adopt_block)
        if approved_plan_digest is not None or not approval_needed(spec, approval, ready.result):
            # Not the approved plan (the world or spec changed), or a mandatory policy
            # finding: stop here, before anything is applied.
            gate(ready.review, approved=approved_plan_digest)
            return _apply(ready)
        gate(ready.review, approved=None)  # a mandatory finding stops before anyone is asked
    # A human decides without the stack's lock held; then the stack is looked at again.
    approved = approved_digest(ready.review, ready.result, what="setup")
    with stack_lock(spec.name):
        ready = _prepare(spec, ctx, kube_access, adopt=adopt_block)
        gate(ready.review, approved=approved)
        return _apply(ready)


@dataclass(frozen=True)
class _Ready:
    """A stack observed, planned and checked, nothing applied yet."""

    spec: StackSpec
    store: StackStore
    #: What apply works with: the world, the observation and the plan.
    env: Env
    #: How a fleet check reaches the stack's world again (saved when apply starts).
    access: StackAccess
    review: PlanReview
    calls_before: ApiCallCounts

    @property
    def result(self) -> Plan:
        return self.env.todo


def _prepare(spec: StackSpec, ctx: AwsContext, kube_access: KubeAccess, *, adopt: bool) -> _Ready:
    calls_before = api_calls()
    store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))
    cluster, target = _preflight(spec, ctx, kube_access)
    env, access, review = _plan(spec, ctx, store, cluster, target, kube_access, adopt=adopt)
    return _Ready(spec, store, env, access, review, calls_before)


def _apply(ready: _Ready) -> dict[str, str]:
    """Each kind as far as the plan asks, in the graph's order (flows/walk.py); its checks ran
    with the plan's. The block exists before anything is created, so `cleanup --stack` works
    after a crash at any step."""
    ready.store.set_phase("setting-up", access=ready.access)
    env = replace(ready.env, record=ready.store.record)
    applied = apply(env, Recorder(ready.store), checked=True)
    return _outputs(ready.spec, ready.store, ready.result, applied.verified(), ready.calls_before)


def _preflight(
    spec: StackSpec, ctx: AwsContext, kube_access: KubeAccess
) -> tuple[ClusterState, KubeTarget]:
    """Read only: every input error stops here with nothing created (the root zone is checked
    by the observation, which reads it anyway)."""
    check_manifests(spec.stack.manifests_path)  # the kustomize dir renders: before any AWS call
    # A kubeconfig's cluster is known without EKS: it is looked at with the others, at once.
    known = cluster_target(kube_access, None, ctx)
    looks: list[Callable[[], object]] = [
        partial(preflight_cluster, ctx, spec.cluster.name,
                oidc_required=identity.needs_oidc_provider(spec)),
        partial(preflight_root_dns, ctx, spec),  # the root zone's role, before the root is read
        *([partial(preflight_kubernetes, known)] if known else []),
    ]  # fmt: skip
    cluster = cast("ClusterState", together(looks)[0])
    target = known or cluster_target(kube_access, cluster, ctx)
    if target is None:
        raise PreflightError(
            f"EKS cluster {cluster.name} reports no API endpoint or CA yet; use kube_access="
            "'kubeconfig' or wait until the cluster is ready."
        )
    if known is None:
        preflight_kubernetes(target)
    return cluster, target


def _plan(
    spec: StackSpec,
    ctx: AwsContext,
    store: StackStore,
    cluster: ClusterState,
    target: KubeTarget,
    kube_access: KubeAccess,
    *,
    adopt: bool,
) -> tuple[Env, StackAccess, PlanReview]:
    """Observe every item, refuse what must be refused (still nothing is made), plan, review
    the plan (digest, policy findings, cost) and publish it: apply carries out exactly it."""
    seen = observe(spec, ctx=ctx, cluster=cluster, target=target, record=store.record)
    # The block is bound to this world (account, region, cluster); ids no longer there go.
    # Saved with the setting-up phase, before anything is made: a refused run saves nothing.
    bind_observed(store, seen, cluster, region=spec.region, adopt=adopt, save=False)
    refuse_foreign_zone(seen.zone, spec)  # a subdomain zone someone else made: only if adopted
    access = StackAccess(
        credentials_block=ctx.credentials_block,
        region=spec.region,
        account=seen.identity.account if seen.identity else "",
        kube_access=kube_access,
        kube_context=get_settings().kube_context,
    )
    result = stack_plan(spec, seen)
    env = Env(spec=spec, ctx=ctx, target=target, cluster=cluster, seen=seen,
              record=store.record, todo=result)  # fmt: skip
    # Anything setup would write that is another owner's stops it, before anything is made (a
    # plan with nothing to apply changes nothing: no need to read the other Ingresses' hosts);
    # so does what this identity may not do. Every check only reads: they run together.
    recorded = [item.id for item in store.record.of_kind(Kind.DNS_RECORD)]
    scheme = spec.kubeflow.alb.scheme
    review = review_stack_plan(spec, seen, result)  # digest, policy findings, cost: no call
    reads: list[Callable[[], object]] = [
        partial(preflight_subnets, ctx, cluster, scheme=scheme, subnets=seen.subnets),
        partial(preflight_owners, ctx, target, spec, seen, recorded=recorded,
                look_around=bool(result.kinds_to_fix())),
        partial(publish_plan, spec.name, result, review=review),  # shown even if refused
        register_block_type,  # the block's first save is then one request
    ]  # fmt: skip
    together([*reads, *checks(env)])
    get_run_logger().info(
        "Stack %s: %s; %s; %s",
        spec.name,
        summary(result),
        review.policy.summary(),
        review.cost.line(),
    )
    return env, access, review


def _outputs(
    spec: StackSpec,
    store: StackStore,
    result: Plan,
    verified: list[str],
    calls_before: ApiCallCounts,
) -> dict[str, str]:
    """The stack's block marked ready, its link, resources, API calls and summary."""
    final = store.phased("ready")
    url = dashboard_url(spec, get_settings().https_port)
    calls = api_calls().since(calls_before)
    checks = "; ".join(verified) or "nothing to apply, nothing to verify again"
    notes = [f"Plan: {summary(result)}.", f"Verified: {checks}."]
    summary_text = setup_summary(final, dashboard_url=url, calls=calls, notes=notes)
    outputs: list[Callable[[], object]] = [  # calls to the Prefect API, none waiting for another
        partial(store.replace, final),  # the block says ready
        partial(resume_drift_schedules, spec.name),  # its cleanup paused them: the stack is back
        partial(publish_link, spec.name, url),
        partial(publish_resources, final),
        partial(publish_api_calls, spec.name, calls),
        partial(publish_markdown, spec.name, "summary", summary_text, "Setup summary"),
    ]
    together(outputs)
    get_run_logger().info("Kubeflow is served at %s (%d mutating AWS calls)", url, calls.mutating)
    return {"stack": spec.name, "url": url, **stack_outputs(final)}
