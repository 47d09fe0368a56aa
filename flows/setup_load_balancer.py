"""The setup flow: from an EKS cluster with Kubeflow to https://kubeflow.<subdomain>/ answering."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture

from core import records
from core.desired import dashboard_record, dashboard_url, partition_of, policy_arn, role_arn
from core.errors import PreflightError, WaitTimeout
from core.kubestate import ControllerOutcome
from core.report import delegation_instructions, setup_summary
from core.resources import CertificateState, RecordChange, ValidationZones
from core.settings import get_settings
from core.spec import StackSpec
from core.state import StackRecord, StackResource
from core.world import world_here
from flows.reporting import (
    artifact_key,
    publish_api_calls,
    publish_link,
    publish_markdown,
    publish_resources,
)
from tasks.aws.acm import desired_certificates, ensure_certificate, manual_validation_records
from tasks.aws.acm import validation_changes as validation_batches
from tasks.aws.acm_issuance import wait_for_certificates
from tasks.aws.clients import AwsContext, api_calls
from tasks.aws.ec2 import ensure_subnet_tags
from tasks.aws.eks import preflight_cluster
from tasks.aws.elbv2 import observe_load_balancer, wait_for_load_balancer
from tasks.aws.iam import ensure_oidc_provider, ensure_role
from tasks.aws.iam_policy import ensure_policy
from tasks.aws.route53 import ensure_delegation, ensure_hosted_zone, find_root_zone
from tasks.aws.route53_records import change_records
from tasks.aws.sts import observe_caller_identity
from tasks.aws.world import bind_to_world
from tasks.dns import wait_for_delegation, wait_for_dns
from tasks.https import wait_for_dashboard
from tasks.k8s.clients import AccessMode as KubeAccess
from tasks.k8s.clients import cluster_target
from tasks.k8s.controller import ensure_controller, observe_controller
from tasks.k8s.ingress import (
    desired_ingress,
    ensure_ingress,
    preflight_kubernetes,
    wait_for_ingress_address,
)
from tasks.stack_block import StackStore, stack_lock

T = TypeVar("T")


@flow(name="setup-load-balancer", log_prints=False)
def setup_load_balancer(
    spec: StackSpec,
    aws_credentials_block: str | None = None,
    kube_access: KubeAccess = "kubeconfig",
) -> dict[str, str]:
    """Expose Kubeflow over an ALB with HTTPS: zone, delegation, certificates, IAM, controller,
    Ingress, DNS record, and a check that the dashboard answers. Re-running converges.

    Args:
        spec: the stack: the original guide's config.yaml shape plus kubeflow-alb options.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
        kube_access: "kubeconfig" (KUBECONFIG / context) or "eks" (endpoint from EKS, STS token).
    """
    with stack_lock(spec.name):
        return _setup(spec, AwsContext(region=spec.region, credentials_block=aws_credentials_block),
                      kube_access)  # fmt: skip


def _setup(spec: StackSpec, ctx: AwsContext, kube_access: KubeAccess) -> dict[str, str]:
    logger = get_run_logger()
    settings = get_settings()
    calls_before = api_calls()
    store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))

    # 1. Preflight: read only; every input error stops here with nothing created.
    identity_read = observe_caller_identity.submit(ctx)  # independent reads run together
    root_zone_read = find_root_zone.submit(ctx, spec)
    cluster = preflight_cluster(ctx, spec.cluster.name)
    target = cluster_target(kube_access, cluster, ctx)
    if target is None:
        raise PreflightError(
            f"EKS cluster {cluster.name} reports no API endpoint or CA yet; use kube_access="
            "'kubeconfig' or wait until the cluster is ready."
        )
    preflight_kubernetes(target)
    controller_now = observe_controller(target, spec.name)
    identity, root_zone = identity_read.result(), root_zone_read.result()
    bind_to_world(ctx, store, world_here(identity, cluster, spec.region))  # no other world's ids

    # 2. The subdomain's zone; then at once (4) the certificate requests, since ACM validation
    # is the longest wait of all and everything until the Ingress can happen meanwhile.
    store.set_phase("setting-up")  # the block exists before anything is created: cleanup --stack
    zone = ensure_hosted_zone(ctx, spec)
    zones = ValidationZones(
        subdomain=spec.subdomain,
        subdomain_zone_id=zone.zone_id,
        root=spec.root,
        root_zone_id=root_zone.zone_id if root_zone else None,
    )
    requested = [ensure_certificate.submit(ctx, spec, request, zones=zones)
                 for request in desired_certificates(spec)]  # fmt: skip

    # 3. The delegation from the root; nothing waits for it before the certificates do.
    delegated: list[PrefectFuture[Any]] = []
    if root_zone is not None:
        upsert = ensure_delegation.submit(ctx, root_zone.zone_id, zone)
        _record_when_done(
            store, upsert, lambda c: [records.delegation_resource(root_zone, zone, added=c.changed)]
        )
        delegated.append(upsert)
    else:
        publish_markdown(spec.name, "delegation", delegation_instructions(
            spec.subdomain, zone.name_servers, spec.root), "NS records to add at your DNS provider")  # fmt: skip
        logger.warning("%s is not in Route53: add the NS records shown in the artifact '%s' at "
                       "its DNS provider; waiting for them.", spec.root,
                       artifact_key(spec.name, "delegation"))  # fmt: skip
    delegation = wait_for_delegation.submit(
        spec.subdomain,
        zone.name_servers,
        root_name_servers=root_zone.name_servers if root_zone else (),
        wait_for=delegated,
    )

    # The requests first: on a busy host the branches below would race them to the API.
    certificates = [future.result() for future in requested]

    # 5. Controller prerequisites run alongside the certificates (4).
    account, partition = identity.account, partition_of(identity.arn)
    subnet_tags = ensure_subnet_tags.submit(ctx, cluster, stack=spec.name)
    _record_when_done(store, subnet_tags, records.subnet_tag_resources)
    needs_install = spec.stack.controller == "install" or (
        spec.stack.controller == "auto" and (controller_now.owned or not controller_now.usable)
    )
    wait_for: list[PrefectFuture[Any]] = [subnet_tags]
    if needs_install:
        provider = ensure_oidc_provider.submit(ctx, spec, cluster)
        _record_when_done(store, provider, lambda p: [records.oidc_resource(p)])
        policy = ensure_policy.submit(ctx, spec)
        _record_when_done(store, policy, lambda p: [records.policy_resource(p)])
        role = ensure_role.submit(ctx, spec, provider,
                                  policy_arn=policy_arn(spec, account=account, partition=partition),
                                  wait_for=[policy])  # fmt: skip
        _record_when_done(store, role, lambda r: [records.role_resource(r)])
        wait_for.append(role)
    controller = ensure_controller.submit(
        target,
        mode="install" if needs_install else spec.stack.controller,
        stack=spec.name,
        cluster_name=cluster.name,
        region=spec.region,
        vpc_id=cluster.vpc_id or "",
        role_arn=role_arn(spec, account=account, partition=partition) if needs_install else "",
        wait_for=wait_for,
    )
    store.set_phase("setting-up", records.zone_resource(zone),
                    *map(records.certificate_resource, certificates))  # fmt: skip

    # 4. Certificates: validation records (one batch per zone), then wait for ISSUED (below).
    _validation_records(spec, certificates, ctx)
    _save(store, *records.validation_resources(certificates))

    # 6. The controller (installed, or one already there), and the Ingress for it, made ready
    # while ACM validates: only applying the Ingress needs ISSUED certificates.
    outcome: ControllerOutcome = controller.result()
    _save(store, records.controller_resource(outcome))
    manifest = desired_ingress(
        stack=spec.name,
        certificate_arns=tuple(c.arn for c in certificates),  # the subdomain's is the default
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        ingress_class=outcome.ingress_class,
        manifests_path=spec.stack.manifests_path,
    )
    _await_delegation(delegation, spec, by_hand=root_zone is None)
    certificates = list(wait_for_certificates(ctx, certificates, zones=zones))

    # 7-8. The Ingress, then the ALB the controller makes for it. From here until the ALB is
    # active the controller and AWS do the work, so the flow records what it has meanwhile.
    ensure_ingress(target, manifest, stack=spec.name)
    _save(store, *map(records.certificate_resource, certificates))
    ingress = wait_for_ingress_address(target)
    _save(store, records.ingress_resource(ingress))
    balancer = observe_load_balancer(ctx, dns_name=ingress.hostname)
    if balancer is None:
        raise RuntimeError(f"No load balancer named {ingress.hostname} in {spec.region}")

    # 9. *.<subdomain> -> the ALB. The record needs only the ALB's name, so it propagates while
    # the ALB provisions; then wait until the ALB is active and the name resolves.
    record = dashboard_record(spec, balancer)
    change_records(ctx, zone.zone_id, [RecordChange(action="UPSERT", record=record)])
    _save(
        store, records.load_balancer_resource(balancer), records.dns_record_resource(zone, record)
    )
    balancer = wait_for_load_balancer(ctx, balancer.arn)
    wait_for_dns(spec.dashboard_host, balancer.dns_name, zone_name_servers=zone.name_servers)

    # 10. End to end: the dashboard answers over HTTPS with a valid certificate.
    answer = wait_for_dashboard(spec.dashboard_host)

    # 11. Outputs (the ALB's active state is recorded with the phase, in one save).
    final = store.set_phase("ready", records.load_balancer_resource(balancer))
    url = dashboard_url(spec, settings.https_port)
    calls = api_calls().since(calls_before)
    publish_link(spec.name, url)
    publish_resources(final)
    publish_api_calls(spec.name, calls)
    notes = [f"The dashboard answered {answer.describe()}."]
    publish_markdown(spec.name, "summary", setup_summary(final, dashboard_url=url, calls=calls,
                                                         notes=notes), "Setup summary")  # fmt: skip
    logger.info("Kubeflow is served at %s (%d mutating AWS calls)", url, calls.mutating)
    return {"stack": spec.name, "url": url, "load_balancer": balancer.arn, "zone_id": zone.zone_id}


def _await_delegation(delegation: PrefectFuture[Any], spec: StackSpec, *, by_hand: bool) -> None:
    """Wait for the delegation; if it is added by hand, a timeout also says where and what."""
    try:
        delegation.result()
    except WaitTimeout as error:
        if not by_hand:
            raise
        raise WaitTimeout(
            f"{error.message}. {spec.root} is not in Route53: add the NS records of the artifact "
            f"'{artifact_key(spec.name, 'delegation')}' at its DNS provider, then run setup again."
        ) from None


def _validation_records(
    spec: StackSpec, certificates: list[CertificateState], ctx: AwsContext
) -> None:
    """UPSERT the validation CNAMEs, one change batch per zone; report the ones to add by hand."""
    batches = validation_batches(certificates)
    futures = [change_records.submit(ctx, zone_id, changes) for zone_id, changes in batches.items()]
    manual = manual_validation_records(certificates)
    if manual:
        lines = "\n".join(f"{r.name}  CNAME  {r.value}" for r in manual)
        publish_markdown(spec.name, "validation-records",
                         f"Add these certificate validation records at the DNS provider of "
                         f"{spec.root}:\n\n```\n{lines}\n```\n", "Records to add by hand")  # fmt: skip
    for future in futures:
        future.result()


def _record_when_done(
    store: StackStore, future: PrefectFuture[T], convert: Callable[[T], Iterable[StackResource]]
) -> None:
    """Record what a concurrent branch created as soon as it completes."""

    def done(finished: PrefectFuture[T]) -> None:
        # Take the final state from the finished future itself: `state` alone may read the task
        # run from the API, where it can still be Running (task states are recorded async).
        finished.wait()
        if finished.state.is_completed():
            store.add(*convert(finished.result()))

    future.add_done_callback(done)


def _save(store: StackStore, *resources: StackResource) -> StackRecord:
    """Record resources at once, so a crash leaves an accurate record."""
    return store.add(*resources)
