"""The controller's AWS side: find a stack's resources by their tags, converge them, remove them.

Nothing is remembered between passes: like the real controller, every reconcile finds the
load balancer, target groups and security groups of an Ingress by ``ingress.k8s.aws/stack``
(and the cluster tag), so a restarted controller never makes a second ALB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.albcontroller.access import Aws, AwsCallError
from sandbox.albcontroller.listeners import sync_listeners
from sandbox.albcontroller.model import (
    BACKEND_SG_RESOURCE_TAG,
    CLUSTER_TAG,
    LB_RESOURCE,
    SG_RESOURCE,
    STACK_TAG,
    StackModel,
    backend_security_group_name,
    stack_tags,
)
from sandbox.albcontroller.protection import delete_load_balancer
from sandbox.albcontroller.subnets import discover_subnets

_BACKEND_SG = "backend-sg"
__all__ = ["Aws", "Found", "delete_stack", "deploy", "discover_subnets", "find_stack"]


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


@dataclass
class Found:
    """A stack's resources, with their tags."""

    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    target_groups: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)


def find_stack(aws: Aws, *, cluster: str, stack_id: str, stack_tag: str = STACK_TAG) -> Found:
    wanted = stack_tags(cluster, stack_id, stack_tag)

    def ours(tags: dict[str, str]) -> bool:
        return all(tags.get(key) == value for key, value in wanted.items())

    balancers = aws.call("elbv2", "DescribeLoadBalancers")["LoadBalancers"]
    groups = aws.call("elbv2", "DescribeTargetGroups")["TargetGroups"]
    tags = aws.tags(
        [b["LoadBalancerArn"] for b in balancers] + [g["TargetGroupArn"] for g in groups]
    )
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in wanted.items()]
    return Found(
        load_balancers=[
            {**b, "Tags": tags[b["LoadBalancerArn"]]}
            for b in balancers
            if ours(tags.get(b["LoadBalancerArn"], {}))
        ],
        target_groups=[
            {**g, "Tags": tags[g["TargetGroupArn"]]}
            for g in groups
            if ours(tags.get(g["TargetGroupArn"], {}))
        ],
        security_groups=aws.call("ec2", "DescribeSecurityGroups", Filters=filters)[
            "SecurityGroups"
        ],
    )


def _security_group(aws: Aws, model: StackModel, found: Found, *, cluster: str, vpc_id: str) -> str:
    tags = {**model.tags, **_own_tags(model, cluster), model.resource_tag: SG_RESOURCE}
    existing = [
        g
        for g in found.security_groups
        if {t["Key"]: t["Value"] for t in g.get("Tags", [])}.get(model.resource_tag) == SG_RESOURCE
    ]
    if existing:
        group = existing[0]
    else:
        group_id = aws.call(
            "ec2",
            "CreateSecurityGroup",
            GroupName=model.sg_name,
            Description="[k8s] Managed SecurityGroup for LoadBalancer",
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(tags)}],
        )["GroupId"]
        group = {"GroupId": group_id, "IpPermissions": []}
    wanted = {(listener.port, cidr) for listener in model.listeners for cidr in model.inbound_cidrs}
    opened = {
        (p.get("FromPort"), r.get("CidrIp") or r.get("CidrIpv6"))
        for p in group.get("IpPermissions", [])
        for r in [*p.get("IpRanges", []), *p.get("Ipv6Ranges", [])]
    }
    # Sources no longer declared are revoked, as the controller reconciles the whole group.
    if opened - wanted:
        aws.call("ec2", "RevokeSecurityGroupIngress", GroupId=group["GroupId"],
                 IpPermissions=[_permission(*rule) for rule in sorted(opened - wanted)])  # fmt: skip
    if wanted - opened:
        aws.call("ec2", "AuthorizeSecurityGroupIngress", GroupId=group["GroupId"],
                 IpPermissions=[_permission(*rule) for rule in sorted(wanted - opened)])  # fmt: skip
    return str(group["GroupId"])


def _permission(port: int, cidr: str) -> dict[str, Any]:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
    )
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **ranges}


def backend_security_group(aws: Aws, *, cluster: str, vpc_id: str, create: bool) -> str | None:
    """The cluster-wide shared backend group (``k8s-traffic-<cluster>-<hash>``)."""
    filters = [
        {"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster]},
        {"Name": f"tag:{BACKEND_SG_RESOURCE_TAG}", "Values": [_BACKEND_SG]},
    ]
    groups = aws.call("ec2", "DescribeSecurityGroups", Filters=filters)["SecurityGroups"]
    if groups or not create:
        return str(groups[0]["GroupId"]) if groups else None
    tags = {CLUSTER_TAG: cluster, BACKEND_SG_RESOURCE_TAG: _BACKEND_SG}
    return str(
        aws.call(
            "ec2",
            "CreateSecurityGroup",
            GroupName=backend_security_group_name(cluster),
            Description="[k8s] Shared Backend SecurityGroup for LoadBalancer",
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(tags)}],
        )["GroupId"]
    )


def _sync_tags(aws: Aws, arn: str, current: dict[str, str], wanted: dict[str, str]) -> None:
    """Out-of-band tag changes are reverted, as the controller does."""
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    extra = sorted(set(current) - set(wanted))
    if changed:
        aws.call("elbv2", "AddTags", ResourceArns=[arn], Tags=_tag_list(changed))
    if extra:
        aws.call("elbv2", "RemoveTags", ResourceArns=[arn], TagKeys=extra)


def _load_balancer(
    aws: Aws,
    model: StackModel,
    found: Found,
    *,
    cluster: str,
    subnets: list[str],
    groups: list[str],
) -> dict[str, Any]:
    tags = {**model.tags, **_own_tags(model, cluster), model.resource_tag: LB_RESOURCE}
    current = None
    for balancer in found.load_balancers:
        if balancer["Tags"].get(model.resource_tag) != LB_RESOURCE:
            continue
        if balancer["Scheme"] != model.scheme or current is not None:
            # A scheme cannot change: the controller replaces the load balancer.
            delete_load_balancer(aws, balancer["LoadBalancerArn"])
            continue
        current = balancer
    if current is None:
        created: dict[str, Any] = aws.call(
            "elbv2",
            "CreateLoadBalancer",
            Name=model.lb_name,
            Subnets=subnets,
            SecurityGroups=groups,
            Scheme=model.scheme,
            Type="application",
            IpAddressType=model.ip_address_type,
            Tags=_tag_list(tags),
        )["LoadBalancers"][0]
        return created
    arn = current["LoadBalancerArn"]
    if sorted(z["SubnetId"] for z in current.get("AvailabilityZones", [])) != sorted(subnets):
        aws.call("elbv2", "SetSubnets", LoadBalancerArn=arn, Subnets=subnets)
    if current.get("IpAddressType", "ipv4") != model.ip_address_type:
        aws.call(
            "elbv2", "SetIpAddressType", LoadBalancerArn=arn, IpAddressType=model.ip_address_type
        )
    if sorted(current.get("SecurityGroups", [])) != sorted(groups):
        aws.call("elbv2", "SetSecurityGroups", LoadBalancerArn=arn, SecurityGroups=groups)
    _sync_tags(aws, arn, current["Tags"], tags)
    return current


def _attributes(aws: Aws, arn: str, wanted: dict[str, str]) -> None:
    if not wanted:
        return
    seen = aws.call("elbv2", "DescribeLoadBalancerAttributes", LoadBalancerArn=arn)["Attributes"]
    current = {a["Key"]: a["Value"] for a in seen}
    changed = [{"Key": k, "Value": v} for k, v in sorted(wanted.items()) if current.get(k) != v]
    if changed:
        aws.call("elbv2", "ModifyLoadBalancerAttributes", LoadBalancerArn=arn, Attributes=changed)


def _web_acl(aws: Aws, arn: str, wanted: str | None) -> None:
    """Associate the annotated WAFv2 web ACL; without the annotation the association is not
    managed (as the controller does)."""
    if wanted is None:
        return
    current = aws.call("wafv2", "GetWebACLForResource", ResourceArn=arn).get("WebACL") or {}
    if current.get("ARN") != wanted:
        aws.call("wafv2", "AssociateWebACL", WebACLArn=wanted, ResourceArn=arn)


def _target_groups(
    aws: Aws, model: StackModel, found: Found, *, cluster: str, vpc_id: str
) -> dict[str, str]:
    """ARN of each model target group by resource id, reusing the stack's matching ones."""
    arns: dict[str, str] = {}
    for wanted in model.target_groups:
        tags = {
            **(model.tags if wanted.tags is None else wanted.tags),
            **_own_tags(model, cluster),
            model.resource_tag: wanted.resource_id,
        }
        match = next(
            (
                g
                for g in found.target_groups
                if g["Tags"].get(model.resource_tag) == wanted.resource_id
                and (g.get("Port"), g.get("Protocol"), g.get("TargetType"))
                == (wanted.port, wanted.protocol, wanted.target_type)
            ),
            None,
        )
        if match is None:
            arns[wanted.resource_id] = aws.call(
                "elbv2",
                "CreateTargetGroup",
                Name=wanted.name,
                Protocol=wanted.protocol,
                ProtocolVersion="HTTP1",
                Port=wanted.port,
                VpcId=vpc_id,
                TargetType=wanted.target_type,
                Tags=_tag_list(tags),
                **wanted.health_check,
            )["TargetGroups"][0]["TargetGroupArn"]
            continue
        arn = arns[wanted.resource_id] = match["TargetGroupArn"]
        if any(match.get(key) != value for key, value in wanted.health_check.items()):
            aws.call("elbv2", "ModifyTargetGroup", TargetGroupArn=arn, **wanted.health_check)
        _sync_tags(aws, arn, match["Tags"], tags)
    return arns


def _own_tags(model: StackModel, cluster: str) -> dict[str, str]:
    return stack_tags(cluster, model.stack_id, model.stack_tag)


def deploy(
    aws: Aws, model: StackModel, *, cluster: str, vpc_id: str, subnets: list[str]
) -> tuple[str, dict[str, str]]:
    """Converge the stack; the load balancer's DNS name and the target group ARNs."""
    found = find_stack(aws, cluster=cluster, stack_id=model.stack_id, stack_tag=model.stack_tag)
    managed = _security_group(aws, model, found, cluster=cluster, vpc_id=vpc_id)
    backend = backend_security_group(aws, cluster=cluster, vpc_id=vpc_id, create=True)
    groups = [managed] + ([backend] if backend else [])
    balancer = _load_balancer(aws, model, found, cluster=cluster, subnets=subnets, groups=groups)
    _attributes(aws, balancer["LoadBalancerArn"], model.attributes)
    _web_acl(aws, balancer["LoadBalancerArn"], model.waf_acl_arn)
    target_groups = _target_groups(aws, model, found, cluster=cluster, vpc_id=vpc_id)
    sync_listeners(aws, balancer["LoadBalancerArn"], model, target_groups)
    for stale in found.target_groups:
        if stale["TargetGroupArn"] not in target_groups.values():
            aws.call("elbv2", "DeleteTargetGroup", TargetGroupArn=stale["TargetGroupArn"])
    return str(balancer["DNSName"]).lower(), target_groups


def delete_stack(aws: Aws, *, cluster: str, stack_id: str, stack_tag: str = STACK_TAG) -> None:
    """Remove the stack's load balancer (its listeners go with it), target groups and groups."""
    found = find_stack(aws, cluster=cluster, stack_id=stack_id, stack_tag=stack_tag)
    for balancer in found.load_balancers:
        delete_load_balancer(aws, balancer["LoadBalancerArn"])
    for group in found.target_groups:
        aws.call("elbv2", "DeleteTargetGroup", TargetGroupArn=group["TargetGroupArn"])
    for security_group in found.security_groups:
        delete_security_group(aws, security_group["GroupId"])
    release_backend_security_group(aws, cluster=cluster)


def delete_security_group(aws: Aws, group_id: str) -> None:
    """As v3.5.0: DependencyViolation is retried for 10 s (folded into one try here), then the
    error is wrapped: "failed to delete securityGroup: timed out waiting for the condition: ..."."""
    try:
        aws.call("ec2", "DeleteSecurityGroup", GroupId=group_id)
    except AwsCallError as error:
        if "DependencyViolation" not in str(error):
            raise
        raise AwsCallError(
            f"failed to delete securityGroup: timed out waiting for the condition: {error}"
        ) from None


def release_backend_security_group(aws: Aws, *, cluster: str) -> None:
    """Delete the shared backend group once no load balancer of the cluster uses it."""
    backend = backend_security_group(aws, cluster=cluster, vpc_id="", create=False)
    if backend is None:
        return
    balancers = aws.call("elbv2", "DescribeLoadBalancers")["LoadBalancers"]
    if not any(backend in b.get("SecurityGroups", []) for b in balancers):
        aws.call("ec2", "DeleteSecurityGroup", GroupId=backend)
