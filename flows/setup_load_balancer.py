"""The setup flow: from an EKS cluster with Kubeflow to https://kubeflow.<subdomain>/ answering."""

from __future__ import annotations

from prefect import flow, get_run_logger

from core import identity
from core.desired import dashboard_url
from core.errors import PreflightError
from core.report import setup_summary
from core.settings import get_settings
from core.spec import StackSpec
from core.state import Kind, StackAccess
from flows.apply import apply_plan
from flows.observing import observe, publish_plan, stack_plan, summary
from flows.outcomes import expected_outcomes
from flows.recording import Recorder
from flows.reporting import publish_api_calls, publish_link, publish_markdown, publish_resources
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.ec2 import preflight_subnets
from tasks.aws.eks import preflight_cluster
from tasks.aws.root_dns import preflight_root_dns
from tasks.aws.route53 import refuse_foreign_zone
from tasks.aws.world import bind_observed
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import cluster_target
from tasks.k8s.ingress import preflight_kubernetes
from tasks.k8s.manifests import check_manifests
from tasks.preflight_stacks import preflight_owners
from tasks.schedules import resume_drift_schedules
from tasks.stack_block import StackStore, stack_lock


@flow(name="setup-load-balancer", log_prints=False)
@expected_outcomes
def setup_load_balancer(
    spec: StackSpec,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
    adopt_block: bool = False,
) -> dict[str, str]:
    """Expose Kubeflow over an ALB with HTTPS: zone, delegation, certificates, IAM, controller,
    Ingress, DNS record, and a check that the dashboard answers. Re-running converges.

    Args:
        spec: the stack: the original guide's config.yaml shape plus kubeflow-alb options.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
        adopt_block: move a block saved in another AWS account or cluster to this one (its old
            ids are forgotten; they stay in the other world).
    """
    ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block, scope=spec.name)
    with stack_lock(spec.name):
        return _setup(spec, ctx, kube_access, adopt_block=adopt_block)


def _setup(
    spec: StackSpec, ctx: AwsContext, kube_access: KubeAccess, *, adopt_block: bool
) -> dict[str, str]:
    logger = get_run_logger()
    calls_before = api_calls()
    store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))

    # 1. Preflight: read only; every input error stops here with nothing created (the root
    # zone is checked by the observation below, which reads it anyway).
    check_manifests(spec.stack.manifests_path)  # the kustomize dir renders: before any AWS call
    cluster = preflight_cluster(
        ctx, spec.cluster.name, oidc_required=identity.needs_oidc_provider(spec)
    )
    preflight_root_dns(ctx, spec)  # the root zone's role, if any, before anything reads the root
    target = cluster_target(kube_access, cluster, ctx)
    if target is None:
        raise PreflightError(
            f"EKS cluster {cluster.name} reports no API endpoint or CA yet; use kube_access="
            "'kubeconfig' or wait until the cluster is ready."
        )
    preflight_kubernetes(target)

    # Observe every item, plan, and publish the plan: apply carries out exactly this plan.
    seen = observe(spec, ctx=ctx, cluster=cluster, target=target, record=store.record)
    # What the observation shows that setup must refuse: still nothing is made. The block is
    # bound to this world (account, region, cluster); ids no longer there are dropped.
    bind_observed(store, seen, cluster, region=spec.region, adopt=adopt_block)
    refuse_foreign_zone(seen.zone, spec)  # a subdomain zone someone else made: only if adopted
    store.set_access(  # how a fleet check reaches this stack's world again
        StackAccess(
            credentials_block=ctx.credentials_block,
            region=spec.region,
            account=seen.identity.account if seen.identity else "",
            kube_access=kube_access,
            kube_context=get_settings().kube_context,
        )
    )
    preflight_subnets(ctx, cluster, scheme=spec.kubeflow.alb.scheme, subnets=seen.subnets)
    result = stack_plan(spec, seen)
    # Anything setup would write that is another owner's stops it, before anything is made (a
    # plan with nothing to apply changes nothing: no need to read the other Ingresses' hosts).
    recorded = [item.id for item in store.record.of_kind(Kind.DNS_RECORD)]
    preflight_owners(
        ctx, target, spec, seen, recorded=recorded, look_around=bool(result.kinds_to_fix())
    )
    publish_plan(spec.name, result)
    logger.info("Stack %s: %s", spec.name, summary(result))

    # 2-10. Apply: zone, delegation, certificates, subnet tags, IAM, controller, Ingress, ALB,
    # DNS record, HTTPS check, each as far as the plan asks. The block exists before anything
    # is created, so `cleanup --stack` works after a crash at any step.
    store.set_phase("setting-up")
    applied = apply_plan(
        spec, ctx=ctx, target=target, seen=seen, result=result, recorder=Recorder(store)
    )

    # 11. Outputs.
    final = store.set_phase("ready")
    resume_drift_schedules(spec.name)  # its cleanup paused them: the stack is back
    url = dashboard_url(spec, get_settings().https_port)
    calls = api_calls().since(calls_before)
    publish_link(spec.name, url)
    publish_resources(final)
    publish_api_calls(spec.name, calls)
    answer = applied.answer.describe() if applied.answer else "as before (nothing to apply)"
    notes = [f"Plan: {summary(result)}.", f"The dashboard answered {answer}."]
    publish_markdown(
        spec.name,
        "summary",
        setup_summary(final, dashboard_url=url, calls=calls, notes=notes),
        "Setup summary",
    )
    logger.info("Kubeflow is served at %s (%d mutating AWS calls)", url, calls.mutating)
    balancer = applied.balancer.arn if applied.balancer else ""
    return {
        "stack": spec.name,
        "url": url,
        "load_balancer": balancer,
        "zone_id": applied.zone.zone_id,
    }
