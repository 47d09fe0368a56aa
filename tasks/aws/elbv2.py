"""The ALB: observe it, wait until active, and remove what the controller left (cleanup fallback)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming
from core.errors import AwsError, ResourceNotFound, WaitTimeout
from core.resources import ControllerResources, ListenerState, LoadBalancerState
from core.settings import Settings, get_settings
from core.spec import StackSpec
from tasks.aws.clients import AwsContext, client, waiter_config
from tasks.aws.errors import aws_task, error_code
from tasks.logs import run_logger
from tasks.waits import wait_for

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client as ElbClient

#: Tags the AWS Load Balancer Controller puts on what it creates.
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
INGRESS_STACK_TAG = "ingress.k8s.aws/stack"
RESOURCE_TAG = "ingress.k8s.aws/resource"
_GONE = frozenset({"LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound"})
_NONE: frozenset[str] = frozenset()


def _tags(elb: ElbClient, arns: list[str]) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # DescribeTags takes 20 ARNs at a time
        for item in elb.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            tags[item["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in item.get("Tags", [])}
    return tags


def _state(elb: ElbClient, raw: Any, tags: dict[str, str], stack: str | None) -> LoadBalancerState:
    arn = raw["LoadBalancerArn"]
    listeners = [
        ListenerState(
            arn=item["ListenerArn"],
            port=item.get("Port", 0),
            protocol=item.get("Protocol", ""),
            certificate_arns=tuple(cert["CertificateArn"] for cert in item.get("Certificates", [])),
        )
        for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
        for item in page["Listeners"]
    ]
    return LoadBalancerState(
        arn=arn,
        name=raw["LoadBalancerName"],
        dns_name=raw["DNSName"],
        state=raw.get("State", {}).get("Code", "unknown"),
        scheme=raw.get("Scheme", ""),
        type=raw.get("Type", "application"),
        vpc_id=raw.get("VpcId"),
        canonical_hosted_zone_id=raw.get("CanonicalHostedZoneId", ""),
        security_group_ids=tuple(raw.get("SecurityGroups", [])),
        listeners=tuple(sorted(listeners, key=lambda listener: listener.port)),
        tags=tags,
        owned=stack is not None and naming.is_owned(tags, stack),
    )


def read_load_balancer(
    elb: ElbClient, *, dns_name: str | None = None, arn: str | None = None, stack: str | None = None
) -> LoadBalancerState | None:
    """The load balancer with this ARN or DNS name, or None."""
    if arn:
        try:
            found = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        except ClientError as error:
            if error_code(error) == "LoadBalancerNotFound":
                return None
            raise
    else:
        wanted = (dns_name or "").lower().rstrip(".").removeprefix("dualstack.")
        pages = elb.get_paginator("describe_load_balancers").paginate()
        found = [
            lb for page in pages for lb in page["LoadBalancers"] if lb["DNSName"].lower() == wanted
        ]
    if not found:
        return None
    raw = found[0]
    tags = _tags(elb, [raw["LoadBalancerArn"]]).get(raw["LoadBalancerArn"], {})
    return _state(elb, raw, tags, stack)


@aws_task
def observe_load_balancer(
    ctx: AwsContext,
    *,
    dns_name: str | None = None,
    arn: str | None = None,
    stack: str | None = None,
) -> LoadBalancerState | None:
    """Read the ALB (by ARN or by the DNS name the Ingress reports): state, listeners, tags."""
    return read_load_balancer(client(ctx, "elbv2"), dns_name=dns_name, arn=arn, stack=stack)


@aws_task
def wait_for_load_balancer(
    ctx: AwsContext, arn: str, *, stack: str | None = None, settings: Settings | None = None
) -> LoadBalancerState:
    """Wait, bounded by the ALB timeout, until the load balancer is `active` (stop at `failed`)."""
    elb, settings = client(ctx, "elbv2"), settings or get_settings()

    def fetch() -> tuple[str, str]:
        # One DescribeLoadBalancers per poll, as botocore's load_balancer_available waiter makes.
        try:
            found = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        except ClientError as error:
            if error_code(error) == "LoadBalancerNotFound":
                return ("not found", "")
            raise
        state = found[0].get("State", {}) if found else {}
        return (state.get("Code", "unknown"), state.get("Reason", ""))

    last: list[tuple[str, str]] = []

    def observed() -> tuple[str, str]:
        last[:] = [fetch()]
        return last[0]

    try:
        code, reason = wait_for(
            observed,
            lambda seen: seen[0] in ("active", "failed"),
            what=f"load balancer {arn} to be active",
            bound="alb_timeout_seconds",
            settings=settings,
            describe=_describe_state,
        )
    except WaitTimeout:
        raise WaitTimeout(
            f"Load balancer {arn} is {_describe_state(last[0] if last else None)}, not active, "
            f"after {settings.alb_timeout_seconds:g}s (KFALB_ALB_TIMEOUT_SECONDS). Check the AWS "
            "Load Balancer Controller's logs and the Ingress events; re-running setup resumes "
            "the wait."
        ) from None
    if code == "failed":
        raise AwsError(
            f"Load balancer {arn} failed to provision: {reason or 'no reason given'}. Check the "
            "AWS Load Balancer Controller's logs and the Ingress events, then re-run setup.",
            code="LoadBalancerFailed",
        )
    state = read_load_balancer(elb, arn=arn, stack=stack)
    if state is None:
        raise ResourceNotFound(f"Load balancer {arn} disappeared right after turning active.")
    run_logger().info("Load balancer %s is %s", state.dns_name, state.state)
    return state


def _describe_state(seen: tuple[str, str] | None) -> str:
    code, reason = seen or ("unknown", "")
    return code + (f" ({reason})" if reason else "")


def _controller_made(tags: dict[str, str], spec: StackSpec) -> bool:
    # Made by the controller for this cluster AND carrying our tags (passed via the Ingress).
    return tags.get(CLUSTER_TAG) == spec.cluster.name and naming.is_owned(tags, spec.name)


def find_leftovers(ctx: AwsContext, spec: StackSpec) -> ControllerResources:
    elb, ec2 = client(ctx, "elbv2"), client(ctx, "ec2")
    lbs = [
        lb["LoadBalancerArn"]
        for page in elb.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancers"]
    ]
    groups = [
        tg["TargetGroupArn"]
        for page in elb.get_paginator("describe_target_groups").paginate()
        for tg in page["TargetGroups"]
    ]
    tags = _tags(elb, lbs + groups)
    security_groups = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[
            {"Name": f"tag:{CLUSTER_TAG}", "Values": [spec.cluster.name]},
            {"Name": f"tag:{naming.STACK_TAG}", "Values": [spec.name]},
            {"Name": f"tag:{naming.MANAGED_BY_TAG}", "Values": [naming.TOOL]},
        ]
    )
    return ControllerResources(
        load_balancer_arns=tuple(a for a in lbs if _controller_made(tags.get(a, {}), spec)),
        target_group_arns=tuple(a for a in groups if _controller_made(tags.get(a, {}), spec)),
        security_group_ids=tuple(
            group["GroupId"] for page in security_groups for group in page["SecurityGroups"]
        ),
    )


@aws_task
def find_controller_resources(ctx: AwsContext, spec: StackSpec) -> ControllerResources:
    """List the load balancers, target groups and security groups the AWS Load Balancer
    Controller made for this stack (its cluster tag plus our ownership tags)."""
    return find_leftovers(ctx, spec)


def _attempt(action: Callable[[], object], *, busy: frozenset[str]) -> bool:
    """Run a delete; True when done (or already gone), False while AWS says it is still busy."""
    try:
        action()
    except ClientError as error:
        code = error_code(error)
        if code in busy:
            return False
        if code in _GONE or code.endswith(".NotFound"):
            return True
        raise
    return True


def delete_when_free(
    action: Callable[[], object], *, busy: str, what: str, settings: Settings
) -> None:
    """Retry a delete, bounded by the cleanup timeout, while AWS answers `busy`."""
    wait_for(
        lambda: _attempt(action, busy=frozenset({busy})),
        bool,
        what=f"{what} to be deletable",
        bound="cleanup_timeout_seconds",
        settings=settings,
        describe=lambda _: f"AWS still answers {busy}",
    )


def unreference(ec2: EC2Client, group_id: str) -> None:
    # The controller lets its ALB security group into the nodes' groups; those rules would keep
    # the group from being deleted, so remove exactly the rules that name it.
    pages = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "ip-permission.group-id", "Values": [group_id]}]
    )
    for page in pages:
        for other in page["SecurityGroups"]:
            rules: list[Any] = []
            for permission in other.get("IpPermissions", []):
                pairs = [
                    p for p in permission.get("UserIdGroupPairs", []) if p["GroupId"] == group_id
                ]
                if pairs:
                    rule = {
                        k: v
                        for k, v in permission.items()
                        if k in ("IpProtocol", "FromPort", "ToPort")
                    }
                    rules.append({**rule, "UserIdGroupPairs": [{"GroupId": group_id}]})
            if rules and other["GroupId"] != group_id:
                ec2.revoke_security_group_ingress(GroupId=other["GroupId"], IpPermissions=rules)


@aws_task
def delete_controller_resources(
    ctx: AwsContext, spec: StackSpec, *, settings: Settings | None = None
) -> bool:
    """Delete what the controller left for this stack: listeners, load balancers, target groups,
    then security groups, each wait bounded. False when nothing was left.

    Cleanup's fallback when the controller is gone before the Ingress it served.
    """
    elb, ec2, log = client(ctx, "elbv2"), client(ctx, "ec2"), run_logger()
    settings = settings or get_settings()
    found = find_leftovers(ctx, spec)
    if found.empty:
        return False
    for arn in found.load_balancer_arns:
        for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
            for listener in page["Listeners"]:
                _attempt(
                    partial(elb.delete_listener, ListenerArn=listener["ListenerArn"]), busy=_NONE
                )
        _attempt(partial(elb.delete_load_balancer, LoadBalancerArn=arn), busy=_NONE)
        log.info("Deleted load balancer %s", arn)
    if found.load_balancer_arns:
        elb.get_waiter("load_balancers_deleted").wait(
            LoadBalancerArns=list(found.load_balancer_arns),
            WaiterConfig=waiter_config(
                interval=settings.poll_interval_seconds, timeout=settings.cleanup_timeout_seconds
            ),
        )
    for arn in found.target_group_arns:
        delete_when_free(
            partial(elb.delete_target_group, TargetGroupArn=arn),
            busy="ResourceInUse",
            what=f"target group {arn}",
            settings=settings,
        )
        log.info("Deleted target group %s", arn)
    for group_id in found.security_group_ids:
        unreference(ec2, group_id)
        # The deleted ALB's network interfaces linger for a few minutes and hold the group.
        delete_when_free(
            partial(ec2.delete_security_group, GroupId=group_id),
            busy="DependencyViolation",
            what=f"security group {group_id}",
            settings=settings,
        )
        log.info("Deleted security group %s", group_id)
    return True
