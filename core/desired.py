"""Desired values derived from the spec and observed facts (pure): ARNs, the dashboard record."""

from __future__ import annotations

from collections.abc import Iterable

from core import naming
from core.alb_options import IP_ADDRESS_TYPE
from core.manifests import IngressParams
from core.resources import (
    AliasTarget,
    CertificateRequest,
    LoadBalancerState,
    RecordSetState,
    SubnetState,
)
from core.spec import StackSpec

RECORD_TTL = 300


def partition_of(arn: str) -> str:
    """`aws`, `aws-cn` or `aws-us-gov` from any ARN."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" else "aws"


def policy_name(spec: StackSpec) -> str:
    """The controller's IAM policy: per cluster, shared by every stack on it."""
    return naming.controller_policy_name(spec.cluster.name, spec.region)


def role_name(spec: StackSpec) -> str:
    """The controller's IRSA role: per cluster, shared by every stack on it."""
    return naming.controller_role_name(spec.cluster.name, spec.region)


def policy_arn(spec: StackSpec, *, account: str, partition: str = "aws") -> str:
    """The controller policy's ARN (IAM names are global in an account, so it is derivable)."""
    return f"arn:{partition}:iam::{account}:policy/{policy_name(spec)}"


def role_arn(spec: StackSpec, *, account: str, partition: str = "aws") -> str:
    """The controller IRSA role's ARN."""
    return f"arn:{partition}:iam::{account}:role/{role_name(spec)}"


def dashboard_record(spec: StackSpec, balancer: LoadBalancerState) -> RecordSetState:
    """`*.<subdomain>` to the ALB: alias A (default) or CNAME, as the spec says."""
    name = naming.wildcard(spec.subdomain)
    if spec.stack.record_type == "cname":
        return RecordSetState(name=name, type="CNAME", ttl=RECORD_TTL, values=(balancer.dns_name,))
    return RecordSetState(
        name=name,
        type="A",
        alias=AliasTarget(
            hosted_zone_id=balancer.canonical_hosted_zone_id,
            dns_name=f"dualstack.{balancer.dns_name}",
            evaluate_target_health=True,
        ),
    )


def certificate_requests(spec: StackSpec) -> tuple[CertificateRequest, ...]:
    """`*.<subdomain>` with the SANs, and `*.<root>` unless stack.rootCertificate is off; each
    with the ARN of the existing certificate to use instead, when the spec gives one."""
    domain = naming.wildcard(spec.subdomain)
    sans = tuple(
        name for name in spec.route53.sub_domain.subject_alternative_names if name != domain
    )
    given = spec.route53.sub_domain.cert_arn
    wanted = [CertificateRequest(role="subdomain", domain=domain, sans=sans, arn=given)]
    root_arn = spec.route53.root_domain.cert_arn
    if spec.stack.root_certificate or root_arn:
        root = naming.wildcard(spec.root)
        wanted.append(CertificateRequest(role="root", domain=root, arn=root_arn))
    return tuple(wanted)


PUBLIC_ROLE_TAG = "kubernetes.io/role/elb"
PRIVATE_ROLE_TAG = "kubernetes.io/role/internal-elb"


def cluster_tag(cluster_name: str) -> str:
    return f"kubernetes.io/cluster/{cluster_name}"


def subnet_tags(subnet: SubnetState, cluster_name: str) -> dict[str, str]:
    """The controller's discovery tags for a subnet: its role and the cluster."""
    role = PUBLIC_ROLE_TAG if subnet.public else PRIVATE_ROLE_TAG
    return {role: "1", cluster_tag(cluster_name): "shared"}


def subnet_tags_wanted(
    subnets: Iterable[SubnetState], cluster_name: str
) -> dict[str, dict[str, str]]:
    """Subnet id -> the discovery tags it should carry."""
    return {subnet.subnet_id: subnet_tags(subnet, cluster_name) for subnet in subnets}


def wants_aaaa(spec: StackSpec) -> bool:
    """A dualstack ALB behind an alias record gets an AAAA alias next to the A one."""
    dualstack = IP_ADDRESS_TYPE.of(spec.kubeflow.alb) == "dualstack"
    return dualstack and spec.stack.record_type == "alias"


def ingress_params(
    spec: StackSpec, *, certificate_arns: tuple[str, ...], ingress_class: str
) -> IngressParams:
    """The stack's parameters of its Ingress, built from the spec in this one place: its ALB
    options (`kubeflow.alb`) become annotations through the option table (core/alb_options.py)."""
    return IngressParams(
        stack=spec.name,
        certificate_arns=certificate_arns,
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        options=spec.kubeflow.alb,
        ingress_class=ingress_class,
        name=spec.ingress_name,
        group=spec.stack.ingress_group,
        host=spec.ingress_host,
    )


def dashboard_records(spec: StackSpec, balancer: LoadBalancerState) -> tuple[RecordSetState, ...]:
    """The dashboard's records: `dashboard_record`, and for a dualstack ALB alias record the AAAA
    alias next to the A one."""
    record = dashboard_record(spec, balancer)
    if record.type != "A" or IP_ADDRESS_TYPE.of(spec.kubeflow.alb) != "dualstack":
        return (record,)
    return (record, record.model_copy(update={"type": "AAAA"}))


def dashboard_url(spec: StackSpec, https_port: int = 443) -> str:
    """The URL users open."""
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://{spec.dashboard_host}{port}/"
