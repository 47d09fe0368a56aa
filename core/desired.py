"""Desired values derived from the spec and observed facts (pure): ARNs, the dashboard record."""

from __future__ import annotations

from core import naming
from core.alb_options import IP_ADDRESS_TYPE
from core.resources import AliasTarget, LoadBalancerState, RecordSetState
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
