"""Read-only observation of every item of a stack, for the drift check and `kfalb plan`."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from core import identity, naming
from core.alb import desired_alb_fields
from core.desired import ingress_options, partition_of
from core.dnsnames import normalise
from core.drift import wants_aaaa
from core.kubestate import ControllerState, IngressState, ingress_fields
from core.observation import Observation, controller_is_ours, ingress_class, validation_zones
from core.plan import PRESENT
from core.resources import (
    CallerIdentity,
    ClusterState,
    OidcProviderState,
    RecordSetState,
)
from core.settings import get_settings
from core.spec import StackSpec
from tasks.aws.acm import desired_certificates, observe_certificate, observe_certificates
from tasks.aws.clients import AwsContext
from tasks.aws.ec2 import desired_tags, observe_subnets
from tasks.aws.elbv2 import observe_load_balancer
from tasks.aws.elbv2_details import details_declared
from tasks.aws.iam import observe_oidc_provider, observe_policy, observe_role
from tasks.aws.pod_identity import observe_pod_identity_agent, observe_pod_identity_association
from tasks.aws.root_dns import root_dns, zone_access
from tasks.aws.route53 import find_root_zone, observe_delegation, observe_hosted_zone
from tasks.aws.route53_records import observe_record_set, observe_zone_records
from tasks.aws.sts import observe_caller_identity
from tasks.dns import answers
from tasks.https import observe_dashboard
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import observe_controller
from tasks.k8s.ingress import desired_ingress, observe_gateway_port, observe_ingress
from tasks.retry import retrying_task


class ClusterObjects(BaseModel):
    """The ALB controller, our Ingress and the gateway's pod port as the Kubernetes API shows them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    controller: ControllerState | None = None
    ingress: IngressState | None = None
    gateway_target_port: int | None = None


@retrying_task
def observe_aws_resources(
    ctx: AwsContext, spec: StackSpec, cluster: ClusterState | None
) -> Observation:
    """Read the stack's zones, delegation, certificates and their validation records, subnet tags
    and the dashboard record. Read only."""
    identity = observe_caller_identity.fn(ctx)
    subnets = observe_subnets.fn(ctx, cluster) if cluster is not None else ()
    # The root zone may be in another account: its reads go through its own context.
    root_zone = find_root_zone.fn(root_dns(ctx, spec), spec)
    zone = observe_hosted_zone.fn(ctx, spec)
    delegation = None
    if root_zone is not None:
        delegation = observe_delegation.fn(root_dns(ctx, spec), root_zone.zone_id, spec.subdomain)
    zones = validation_zones(spec, zone, root_zone)
    requests = desired_certificates(spec)
    # One listing for the requested certificates; a given one (certARN) is read by its ARN.
    certificates = observe_certificates.fn(
        ctx, spec, [r for r in requests if not r.arn], zones=zones
    )
    for request in requests:
        if request.arn and (
            found := observe_certificate.fn(ctx, spec, request, zones=zones, arn=request.arn)
        ):
            certificates[request.domain] = found
    # The subdomain's zone is ours and small: one listing serves all its records.
    in_zone = observe_zone_records.fn(ctx, zone.zone_id) if zone is not None else {}

    def record_set(zone_id: str, name: str, rtype: str) -> RecordSetState | None:
        if zone is not None and zone_id == zone.zone_id:
            return in_zone.get((normalise(name), rtype.upper()))
        access = zone_access(
            ctx, spec, zone_id, root_zone_id=root_zone.zone_id if root_zone else None
        )
        return observe_record_set.fn(access, zone_id, name, rtype)

    validation: dict[str, RecordSetState | None] = {
        record.name: record_set(record.zone_id, record.name, record.type)
        for certificate in certificates.values()
        for record in certificate.validation_records
        if record.zone_id is not None
    }
    return Observation(
        observed_at=datetime.now(UTC),
        identity=identity,
        cluster=cluster,
        subnets=subnets,
        subnet_tags={s.subnet_id: desired_tags(s, cluster.name) for s in subnets if cluster},
        root_zone=root_zone,
        zone=zone,
        delegation=delegation,
        certificate_requests=requests,
        certificates=certificates,
        validation_records=validation,
        dashboard_record=_dashboard_record(spec, in_zone),
        dashboard_aaaa=in_zone.get((normalise(naming.wildcard(spec.subdomain)), "AAAA"))
        if wants_aaaa(spec)
        else None,
    )


def _dashboard_record(
    spec: StackSpec, in_zone: dict[tuple[str, str], RecordSetState]
) -> RecordSetState | None:
    """`*.<subdomain>` of the type the spec asks for, else of the other type (a changed record)."""
    name = normalise(naming.wildcard(spec.subdomain))
    wanted, other = ("CNAME", "A") if spec.stack.record_type == "cname" else ("A", "CNAME")
    return in_zone.get((name, wanted)) or in_zone.get((name, other))


@retrying_task
def observe_cluster_objects(
    target: KubeTarget, stack: str, ingress_name: str = naming.INGRESS_NAME
) -> ClusterObjects:
    """Read the ALB controller (IngressClass, Deployment) and our Ingress. Read only."""
    return ClusterObjects(
        controller=observe_controller.fn(target, stack),
        ingress=observe_ingress.fn(target, name=ingress_name),
        gateway_target_port=observe_gateway_port.fn(target),
    )


@retrying_task
def observe_dependents(
    ctx: AwsContext,
    spec: StackSpec,
    aws: Observation,
    cluster_objects: ClusterObjects,
    *,
    controller_recorded: bool = False,
) -> Observation:
    """Complete an observation with what depends on the rest: the controller's IAM (when the
    controller is ours), the desired Ingress, the ALB behind it, DNS answers and HTTPS."""
    seen = aws.model_copy(
        update={
            "controller": cluster_objects.controller,
            "ingress": cluster_objects.ingress,
            "controller_recorded": controller_recorded,
        }
    )
    if controller_is_ours(spec, seen):
        seen = seen.model_copy(update=_iam(ctx, spec, seen.cluster, seen.identity))
    manifest = desired_ingress.fn(
        stack=spec.name,
        # An ARN not known yet is rendered as PRESENT: any certificate then satisfies the plan.
        certificate_arns=seen.certificate_arns() or (PRESENT,),
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        ingress_class=ingress_class(spec, seen),
        manifests_path=spec.stack.manifests_path,
        **ingress_options(spec),
        name=spec.ingress_name,
        group=spec.stack.ingress_group,
        host=spec.ingress_host,
    )
    alb = desired_alb_fields(
        manifest, cluster=spec.cluster.name, target_port=cluster_objects.gateway_target_port
    )
    hostname = seen.ingress.hostname if seen.ingress else None
    balancer = (
        observe_load_balancer.fn(
            ctx, dns_name=hostname, stack=spec.name, details=details_declared(alb)
        )
        if hostname
        else None
    )
    settings = get_settings()
    host_answers = answers(spec.dashboard_host, "A", settings)
    https = observe_dashboard.fn(spec.dashboard_host) if host_answers else None
    return seen.model_copy(
        update={
            "desired_ingress": ingress_fields(manifest),
            "desired_alb": alb,
            "gateway_target_port": cluster_objects.gateway_target_port,
            "load_balancer": balancer,
            "host_answers": host_answers,
            "alb_answers": answers(balancer.dns_name, "A", settings) if balancer else (),
            "https_ok": https.ok if https else None,
            "https_detail": https.describe() if https else "",
        }
    )


def _iam(
    ctx: AwsContext,
    spec: StackSpec,
    cluster: ClusterState | None,
    caller: CallerIdentity | None,
) -> dict[str, object]:
    """The controller's IAM as its identity needs it (core.identity)."""
    if cluster is not None and identity.uses_pod_identity(spec):
        return {
            "policy": observe_policy.fn(ctx, spec, identity=caller),
            "role": observe_role.fn(ctx, spec, None),
            "pod_identity": observe_pod_identity_association.fn(ctx, spec, cluster.name),
            "pod_identity_agent": observe_pod_identity_agent.fn(ctx, cluster.name),
        }
    if cluster is None or not cluster.oidc_host_path:
        return {"policy": observe_policy.fn(ctx, spec, identity=caller)}
    provider = observe_oidc_provider.fn(ctx, spec, cluster)
    # The trust policy names the provider's ARN, which is known even while the provider is gone.
    expected = provider or OidcProviderState(
        arn=f"arn:{partition_of(caller.arn) if caller else 'aws'}:iam::"
        f"{caller.account if caller else ''}:oidc-provider/{cluster.oidc_host_path}",
        url=cluster.oidc_host_path,
    )
    return {
        "oidc_provider": provider,
        "policy": observe_policy.fn(ctx, spec, identity=caller),
        "role": observe_role.fn(ctx, spec, expected),
        # An association of an earlier pod-identity is the stack's to remove (core.drift).
        "pod_identity": observe_pod_identity_association.fn(ctx, spec, cluster.name),
    }


def observe_stack(
    ctx: AwsContext,
    spec: StackSpec,
    cluster: ClusterState | None,
    target: KubeTarget | None,
    *,
    controller_recorded: bool = False,
) -> Observation:
    """The whole observation without a Prefect run (for `kfalb plan`): the same reads, in turn."""
    aws = observe_aws_resources.fn(ctx, spec, cluster)
    objects = (
        observe_cluster_objects.fn(target, spec.name, spec.ingress_name)
        if target
        else ClusterObjects()
    )
    return observe_dependents.fn(ctx, spec, aws, objects, controller_recorded=controller_recorded)
