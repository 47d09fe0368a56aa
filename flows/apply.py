"""The one apply engine: carry out a plan's changes in the guide's order, each kind only when the
plan marks it, concurrently where the dependency graph allows. Setup applies the whole plan;
remediation applies the same plan of a drifted stack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture

from core import identity, records
from core.alb import desired_alb_fields
from core.desired import (
    dashboard_records,
    ingress_options,
    partition_of,
    policy_arn,
    role_arn,
)
from core.errors import PreflightError, ResourceNotFound, WaitTimeout
from core.kubestate import ControllerOutcome
from core.observation import Observation, controller_is_ours, ingress_class, validation_zones
from core.plan import Plan
from core.report import delegation_instructions
from core.resources import (
    CertificateState,
    ClusterState,
    HostedZoneState,
    LoadBalancerState,
    OidcProviderState,
    PodIdentityAssociationState,
    PolicyState,
    RecordChange,
    RoleState,
    ValidationZones,
)
from core.spec import StackSpec
from core.state import Kind
from flows.recording import Recorder
from flows.reporting import artifact_key, publish_markdown
from tasks.aws.acm import desired_certificates, ensure_certificate, manual_validation_records
from tasks.aws.acm import validation_changes as validation_batches
from tasks.aws.acm_issuance import wait_for_certificates
from tasks.aws.clients import AwsContext
from tasks.aws.ec2 import ensure_subnet_tags
from tasks.aws.elbv2 import observe_load_balancer, wait_for_alb_fields, wait_for_load_balancer
from tasks.aws.iam import ensure_oidc_provider, ensure_role
from tasks.aws.iam_policy import ensure_policy
from tasks.aws.pod_identity import ensure_pod_identity_association, require_pod_identity_agent
from tasks.aws.root_dns import root_dns, zone_access
from tasks.aws.route53 import ensure_delegation, ensure_hosted_zone
from tasks.aws.route53_records import change_records
from tasks.dns import wait_for_delegation, wait_for_dns
from tasks.https import HttpsAnswer, wait_for_dashboard
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import ensure_controller
from tasks.k8s.ingress import (
    desired_ingress,
    ensure_ingress,
    request_reconcile,
    wait_for_ingress_address,
)


@dataclass
class Applied:
    """What apply left in place, and which kinds it changed (for outputs and reports)."""

    zone: HostedZoneState
    balancer: LoadBalancerState | None
    answer: HttpsAnswer | None = None
    kinds: list[Kind] = field(default_factory=list)


@dataclass(frozen=True)
class _Inputs:
    spec: StackSpec
    ctx: AwsContext
    target: KubeTarget
    seen: Observation
    cluster: ClusterState
    todo: frozenset[Kind]
    recorder: Recorder
    #: The kinds the desired model has at all (a function of the spec, e.g. its identity).
    declared: frozenset[Kind] = frozenset()

    def doing(self, *kinds: Kind) -> bool:
        return any(kind in self.todo for kind in kinds)


def apply_plan(
    spec: StackSpec,
    *,
    ctx: AwsContext,
    target: KubeTarget,
    seen: Observation,
    result: Plan,
    recorder: Recorder,
) -> Applied:
    """Apply the plan's changes: each kind the plan marks, in dependency order; what is in place
    is taken as observed. The long waits (ACM validation, ALB provisioning, DNS propagation) start
    as soon as their inputs exist."""
    if seen.cluster is None:
        raise PreflightError(f"EKS cluster {spec.cluster.name} was not found; nothing to apply.")
    declared = frozenset(change.item.kind for change in result.changes)
    if result.kinds_to_fix() and Kind.POD_IDENTITY in declared:
        # the agent is the cluster's: we cannot make it
        require_pod_identity_agent(spec, cluster=seen.cluster.name, status=seen.pod_identity_agent)
    run = _Inputs(spec, ctx, target, seen, seen.cluster, frozenset(result.kinds_to_fix()),
                  recorder, declared)  # fmt: skip
    applied = Applied(
        zone=_zone(run), balancer=seen.load_balancer, kinds=list(result.kinds_to_fix())
    )
    zone = applied.zone
    zones = validation_zones(spec, zone, seen.root_zone)

    # 4. The certificate requests go out first: ACM validation is the longest wait of all.
    renew = result.keys_to_fix(Kind.CERTIFICATE)
    requested = {
        request.domain: ensure_certificate.submit(ctx, spec, request, zones=zones)
        for request in desired_certificates(spec)
        if request.domain in renew and request.arn is None  # a given certificate is only used
    }
    _check_given_certificates(run, renew)
    # 3. The NS delegation from the root; nothing waits for it before the certificates do.
    delegation = _delegate(run, zone, certifying=bool(requested))
    certificates = _certificates(run, requested)
    # 5. Controller prerequisites alongside the certificates.
    controller = _controller(run)
    recorder.add(zone, *certificates)
    # 4. Validation records (one batch per zone), then (below) wait for ISSUED.
    if requested or run.doing(Kind.VALIDATION_RECORD):
        # Only the records of certificates we requested: an adopted one's are not ours.
        _validation_records(run, [c for c in certificates if c.owned])
    outcome = controller.result() if isinstance(controller, PrefectFuture) else controller
    recorder.add(outcome)
    if delegation is not None:
        _await_delegation(delegation, spec, by_hand=seen.root_zone is None)
    if any(certificate.status != "ISSUED" for certificate in certificates):
        certificates = list(wait_for_certificates(ctx, certificates, zones=zones))
        recorder.add(*certificates)
    # 6-8. The Ingress (or, for ALB drift alone, a reconcile of it), then the ALB it makes.
    manifest = _manifest(run, certificates, outcome) if run.doing(Kind.INGRESS) else None
    balancer = _ingress(run, manifest)
    applied.balancer = balancer
    if balancer is None:
        return applied
    # 9. *.<subdomain> -> the ALB: written while the ALB provisions, then wait for the name.
    if run.doing(Kind.DNS_RECORD):
        wanted = dashboard_records(spec, balancer)  # the A alias, and AAAA for dualstack
        change_records(ctx, zone.zone_id, [RecordChange(action="UPSERT", record=r) for r in wanted])
        recorder.add(*(records.dns_record_resource(zone, record) for record in wanted))
    if run.doing(Kind.INGRESS, Kind.LOAD_BALANCER):
        balancer = wait_for_load_balancer(ctx, balancer.arn, seen=balancer)
        # The controller builds the ALB from the Ingress: wait until it says what we declare.
        balancer = wait_for_alb_fields(
            ctx,
            balancer.arn,
            _wanted_alb(run, manifest),
            member=spec.ingress_key if spec.stack.ingress_group else None,
        )
        recorder.add(balancer)
        applied.balancer = balancer
    if run.doing(Kind.INGRESS, Kind.LOAD_BALANCER, Kind.DNS_RECORD, Kind.DNS_ANSWER):
        wait_for_dns(spec.dashboard_host, balancer.dns_name, zone_name_servers=zone.name_servers)
    # 10. End to end: the dashboard answers over HTTPS with a valid certificate.
    if run.todo:
        applied.answer = wait_for_dashboard(spec.dashboard_host)
    return applied


def _check_given_certificates(run: _Inputs, renew: Iterable[str]) -> None:
    """A certificate given by ARN is never requested: one that is missing stops the apply with
    what to do (one still pending is waited for below, like ours)."""
    fixing = set(renew)
    for request in desired_certificates(run.spec):
        if request.arn is None or request.domain not in fixing:
            continue
        if run.seen.certificates.get(request.domain) is None:
            where = "subDomain" if request.role == "subdomain" else "rootDomain"
            raise ResourceNotFound(
                f"Certificate {request.arn} (route53.{where}.certARN) was not found in "
                f"{run.spec.region}; it is used, never requested: fix the ARN, or remove it to "
                f"have {request.domain} requested."
            )


def _zone(run: _Inputs) -> HostedZoneState:
    if run.doing(Kind.HOSTED_ZONE) or run.seen.zone is None:
        zone: HostedZoneState = ensure_hosted_zone(run.ctx, run.spec)
        return zone
    return run.seen.zone


def _delegate(
    run: _Inputs, zone: HostedZoneState, *, certifying: bool
) -> PrefectFuture[Any] | None:
    """UPSERT the delegation when planned; wait for it in public DNS when anything depends on it
    now (a new zone, a changed delegation, certificates to validate)."""
    spec, root = run.spec, run.seen.root_zone
    upserts: list[PrefectFuture[Any]] = []
    if root is not None and run.doing(Kind.DELEGATION):
        upsert = ensure_delegation.submit(root_dns(run.ctx, spec), root.zone_id, zone)
        run.recorder.track(
            upsert, as_=lambda change: records.delegation_resource(root, zone, added=change.changed)
        )
        upserts.append(upsert)
    elif root is None and (run.doing(Kind.HOSTED_ZONE) or certifying):
        publish_markdown(
            spec.name,
            "delegation",
            delegation_instructions(spec.subdomain, zone.name_servers, spec.root),
            "NS records to add at your DNS provider",
        )
        get_run_logger().warning(
            "%s is not in Route53: add the NS records shown in the artifact '%s' at its DNS "
            "provider; waiting for them.",
            spec.root,
            artifact_key(spec.name, "delegation"),
        )
    if not (upserts or certifying or run.doing(Kind.HOSTED_ZONE)):
        return None
    wait: PrefectFuture[Any] = wait_for_delegation.submit(
        spec.subdomain,
        zone.name_servers,
        root_name_servers=root.name_servers if root else (),
        wait_for=upserts,
    )
    return wait


def _certificates(
    run: _Inputs, requested: dict[str, PrefectFuture[CertificateState]]
) -> list[CertificateState]:
    """The stack's certificates in request order (the subdomain's is the Ingress's default)."""
    found = []
    for request in desired_certificates(run.spec):
        if request.domain in requested:
            found.append(requested[request.domain].result())
        elif (seen := run.seen.certificates.get(request.domain)) is not None:
            found.append(seen)
    return found


def _controller(run: _Inputs) -> PrefectFuture[ControllerOutcome] | ControllerOutcome:
    """Subnet tags, the controller's IAM (when the controller is ours) and the controller."""
    spec, seen, ctx = run.spec, run.seen, run.ctx
    wait_for: list[PrefectFuture[Any]] = []
    if run.doing(Kind.SUBNET_TAG):
        tags = ensure_subnet_tags.submit(ctx, run.cluster, stack=spec.name)
        run.recorder.track(tags)
        wait_for.append(tags)
    ours = controller_is_ours(spec, seen)
    caller = seen.identity
    account = caller.account if caller else ""
    partition = partition_of(caller.arn) if caller else "aws"
    controller_role = role_arn(spec, account=account, partition=partition)
    if ours:
        # The controller's users reach AWS through its role: they hold the role and policy too
        # (a stack of the previous version, whose own role the controller leaves for this one).
        found = seen.controller
        users = tuple(u for u in found.users if u != spec.name) if found and found.owned else ()
        provider: PrefectFuture[OidcProviderState] | OidcProviderState | None = seen.oidc_provider
        oidc = Kind.OIDC_PROVIDER in run.declared  # IRSA only (core.identity)
        if oidc and (run.doing(Kind.OIDC_PROVIDER) or provider is None):
            provider = ensure_oidc_provider.submit(ctx, spec, run.cluster)
            run.recorder.track(provider)
        policy: PrefectFuture[PolicyState] | PolicyState | None = seen.policy
        if run.doing(Kind.IAM_POLICY) or policy is None:
            policy = ensure_policy.submit(ctx, spec, users=users)
            run.recorder.track(policy)
        role: PrefectFuture[RoleState] | None = None
        if run.doing(Kind.IAM_ROLE, Kind.OIDC_PROVIDER, Kind.IAM_POLICY) or seen.role is None:
            role = ensure_role.submit(
                ctx,
                spec,
                provider,
                policy_arn=policy_arn(spec, account=account, partition=partition),
                users=users,
                wait_for=[policy] if isinstance(policy, PrefectFuture) else [],
            )
            run.recorder.track(role)
            wait_for.append(role)
        wait_for += _association(run, controller_role, users=users, wait_for=[role] if role else [])
    if not run.doing(Kind.CONTROLLER) and seen.controller is not None:
        return ControllerOutcome(
            provider=seen.controller.provider,
            ingress_class=ingress_class(spec, seen),
            installed=ours,
        )
    future: PrefectFuture[ControllerOutcome] = ensure_controller.submit(
        run.target,
        mode="install" if ours else spec.stack.controller,
        stack=spec.name,
        cluster_name=run.cluster.name,
        region=spec.region,
        vpc_id=run.cluster.vpc_id or "",
        role_arn=(identity.role_annotation(spec, controller_role) or "") if ours else "",
        identity=spec.stack.controller_identity,
        version=spec.stack.controller_version,
        wait_for=wait_for,
    )
    return future


def _association(
    run: _Inputs, arn: str, *, users: tuple[str, ...], wait_for: list[PrefectFuture[Any]]
) -> list[PrefectFuture[Any]]:
    """The Pod Identity association of the controller's service account, when the model has one
    and the plan marks it (or the role it names); held like the role, by the controller's users."""
    if Kind.POD_IDENTITY not in run.declared:
        return []
    if not run.doing(Kind.POD_IDENTITY, Kind.IAM_ROLE) and run.seen.pod_identity is not None:
        return []
    future: PrefectFuture[PodIdentityAssociationState | None]  # None: an IRSA stack's removed
    future = ensure_pod_identity_association.submit(
        run.ctx, run.spec, run.cluster.name, role_arn=arn, users=users, wait_for=wait_for
    )
    run.recorder.track(future)
    return [future]


def _validation_records(run: _Inputs, certificates: list[CertificateState]) -> None:
    """UPSERT the validation CNAMEs, one change batch per zone; report the ones to add by hand."""
    batches = validation_batches(certificates)
    root = run.seen.root_zone.zone_id if run.seen.root_zone else None
    futures = [
        change_records.submit(
            zone_access(run.ctx, run.spec, zone_id, root_zone_id=root), zone_id, changes
        )
        for zone_id, changes in batches.items()
    ]
    manual = manual_validation_records(certificates)
    if manual:
        lines = "\n".join(f"{r.name}  CNAME  {r.value}" for r in manual)
        publish_markdown(
            run.spec.name,
            "validation-records",
            f"Add these certificate validation records at the DNS provider of "
            f"{run.spec.root}:\n\n```\n{lines}\n```\n",
            "Records to add by hand",
        )
    for future in futures:
        future.result()
    run.recorder.add(*records.validation_resources(certificates))


def _manifest(
    run: _Inputs, certificates: list[CertificateState], outcome: ControllerOutcome
) -> dict[str, Any]:
    spec = run.spec
    manifest: dict[str, Any] = desired_ingress(
        stack=spec.name,
        certificate_arns=tuple(c.arn for c in certificates),  # the subdomain's is the default
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        ingress_class=outcome.ingress_class,
        manifests_path=spec.stack.manifests_path,
        **ingress_options(spec),
        name=spec.ingress_name,
        group=spec.stack.ingress_group,
        host=spec.ingress_host,
    )
    return manifest


def _wanted_alb(run: _Inputs, manifest: dict[str, Any] | None) -> dict[str, str]:
    """The ALB's declared fields for the Ingress as applied now (certificates included)."""
    if manifest is None:
        return run.seen.desired_alb
    return desired_alb_fields(
        manifest, cluster=run.cluster.name, target_port=run.seen.gateway_target_port
    )


def _ingress(run: _Inputs, manifest: dict[str, Any] | None) -> LoadBalancerState | None:
    """Apply the Ingress when planned, or make the controller reconcile it when only the ALB
    drifted; then find the ALB the controller made. Returns the ALB as observed otherwise."""
    spec = run.spec
    if manifest is not None:
        ensure_ingress(run.target, manifest, stack=spec.name)
    elif run.doing(Kind.LOAD_BALANCER) and run.seen.ingress is not None:
        # A new value every time: the controller reconciles only when an annotation changes.
        request_reconcile(
            run.target,
            stamp=datetime.now(UTC).isoformat(timespec="microseconds"),
            name=spec.ingress_name,
        )
    else:
        return run.seen.load_balancer
    ingress = wait_for_ingress_address(run.target, name=spec.ingress_name)
    run.recorder.add(ingress)
    balancer: LoadBalancerState | None = observe_load_balancer(run.ctx, dns_name=ingress.hostname)
    if balancer is None:
        raise ResourceNotFound(
            f"No load balancer named {ingress.hostname} in {spec.region}, though Ingress "
            f"{ingress.key} reports it; check the ALB controller's logs."
        )
    run.recorder.add(balancer)
    return balancer


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


__all__ = ["Applied", "ValidationZones", "apply_plan"]
