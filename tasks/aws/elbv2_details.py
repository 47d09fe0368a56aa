"""Facts of an ALB kept outside ELBv2, read only when the desired ALB declares the options'
fields that need them (core/alb_options.py `reads`): the client CIDRs its managed security group
admits (EC2) and its WAFv2 web ACL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.alb import RESOURCE_TAG
from core.alb_options import reads
from core.resources import LoadBalancerState
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import or_none

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

#: The controller's tag value on the security group it manages for the ALB.
MANAGED_SECURITY_GROUP = "ManagedLBSecurityGroup"


def details_declared(fields: Mapping[str, str]) -> frozenset[str]:
    """The services beyond ELBv2 whose facts these declared ALB fields need."""
    return reads(fields)


def with_details(
    ctx: AwsContext, state: LoadBalancerState, details: Iterable[str]
) -> LoadBalancerState:
    """The state with the extra facts of these services read (one call each)."""
    wanted = frozenset(details)
    update: dict[str, Any] = {}
    if "ec2" in wanted:
        update["inbound_cidrs"] = inbound_cidrs(client(ctx, "ec2"), state)
    if "wafv2" in wanted:
        update["waf_acl_arn"] = web_acl(client(ctx, "wafv2"), state.arn)
    return state.model_copy(update=update) if update else state


def inbound_cidrs(ec2: EC2Client, state: LoadBalancerState) -> tuple[str, ...]:
    """The sources the ALB's managed security group admits on the listener ports (all its
    groups when none is the controller's: security groups the user named)."""
    if not state.security_group_ids:
        return ()
    groups = ec2.describe_security_groups(GroupIds=list(state.security_group_ids))
    found = groups["SecurityGroups"]
    managed = [
        group
        for group in found
        if {t["Key"]: t["Value"] for t in group.get("Tags", [])}.get(RESOURCE_TAG)
        == MANAGED_SECURITY_GROUP
    ] or found
    ports = {listener.port for listener in state.listeners}
    cidrs = {
        source
        for group in managed
        for rule in group.get("IpPermissions", [])
        if not ports or rule.get("FromPort") in ports
        for source in [
            *(r["CidrIp"] for r in rule.get("IpRanges", []) if "CidrIp" in r),
            *(r["CidrIpv6"] for r in rule.get("Ipv6Ranges", []) if "CidrIpv6" in r),
        ]
    }
    return tuple(sorted(cidrs))


def web_acl(wafv2: Any, arn: str) -> str | None:
    """The WAFv2 web ACL associated with the ALB, or None."""
    answer = or_none(
        "WAFNonexistentItemException", lambda: wafv2.get_web_acl_for_resource(ResourceArn=arn)
    )
    acl = (answer or {}).get("WebACL") or {}
    found = acl.get("ARN")
    return str(found) if found else None
