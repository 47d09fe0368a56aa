"""The ALB: observe it, wait until active, and remove what the controller left (cleanup fallback)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming
from core.alb import CLUSTER_TAG, STACK_TAG, alb_fields
from core.errors import AwsError, ResourceNotFound, WaitTimeout
from core.ingress_group import member_view
from core.plan import Item, plan
from core.resources import ControllerResources, LoadBalancerState
from core.settings import Settings, get_settings
from core.spec import StackSpec
from core.state import Kind
from core.waits import WAITS
from tasks.aws.clients import AwsContext, client, waiter_config
from tasks.aws.elbv2_details import details_declared, with_details
from tasks.aws.elbv2_protection import lift_protection
from tasks.aws.elbv2_read import full_state, tags_of
from tasks.aws.errors import aws_task, error_code, or_none
from tasks.logs import run_logger
from tasks.waits import wait_for

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client as ElbClient

__all__ = ["CLUSTER_TAG", "STACK_TAG", "alb_differences", "read_load_balancer", "tags_of"]
_GONE = frozenset({"LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound"})
_NONE: frozenset[str] = frozenset()


def read_load_balancer(
    elb: ElbClient,
    *,
    dns_name: str | None = None,
    arn: str | None = None,
    stack: str | None = None,
    recorded: str | None = None,
) -> LoadBalancerState | None:
    """The load balancer with this ARN or DNS name, read whole (see `full_state`), or None.
    With a DNS name, a `recorded` ARN (the stack's record) is read first and taken only while
    it still has that name; the account's load balancers are listed otherwise."""
    wanted = _dns(dns_name or "")
    if arn or recorded:
        found = _by_arn(elb, arn or recorded or "")
        if not arn:
            found = [lb for lb in found if _dns(lb["DNSName"]) == wanted]
    if not arn and not (recorded and found):
        pages = elb.get_paginator("describe_load_balancers").paginate()
        found = [
            lb for page in pages for lb in page["LoadBalancers"] if _dns(lb["DNSName"]) == wanted
        ]
    if not found:
        return None
    return full_state(elb, found[0], stack)


def _dns(name: str) -> str:
    return name.lower().rstrip(".").removeprefix("dualstack.")


def _by_arn(elb: ElbClient, arn: str) -> list[Any]:
    read = lambda: elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]  # noqa: E731
    return list(or_none("LoadBalancerNotFound", read) or [])


@aws_task
def observe_load_balancer(
    ctx: AwsContext,
    *,
    dns_name: str | None = None,
    arn: str | None = None,
    stack: str | None = None,
    details: frozenset[str] = frozenset(),
    recorded: str | None = None,
) -> LoadBalancerState | None:
    """Read the ALB (by ARN or by the DNS name the Ingress reports): state, listeners with
    their certificates, SSL policy, actions and rules, the target groups they forward to with
    their health checks, attributes and tags; and the `details` asked for (ec2: the sources its
    security group admits; wafv2: its WAFv2 web ACL). A `recorded` ARN is read first (see
    `read_load_balancer`)."""
    elb = client(ctx, "elbv2")
    state = read_load_balancer(elb, dns_name=dns_name, arn=arn, stack=stack, recorded=recorded)
    return state if state is None else with_details(ctx, state, details)


@aws_task
def wait_for_load_balancer(
    ctx: AwsContext,
    arn: str,
    *,
    stack: str | None = None,
    settings: Settings | None = None,
    seen: LoadBalancerState | None = None,
) -> LoadBalancerState:
    """Wait, bounded by the ALB timeout, until the load balancer is `active` (stop at `failed`;
    no call when `seen`, a state just observed, already is active)."""
    if seen is not None and seen.arn == arn and seen.state == "active":
        return seen
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
            WAITS.alb_active.of(arn),
            observed,
            until=lambda seen: seen[0] in ("active", "failed"),
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


def alb_differences(
    wanted: Mapping[str, str], state: LoadBalancerState | None, *, member: str | None = None
) -> list[str]:
    """`field: expected X, found Y` for each declared ALB field the state does not satisfy;
    of Ingress `member`'s share only when the ALB is an IngressGroup's."""
    if state is None:
        return ["the load balancer does not exist"]
    if member is not None:
        state = member_view(state, ingress_key=member, desired=dict(wanted))
    item = Item(Kind.LOAD_BALANCER, state.arn, wanted)
    (change,) = plan([item], {(Kind.LOAD_BALANCER, state.arn): alb_fields(state)}).changes
    return [
        f"{d.field}: expected {d.expected!r}, found {d.found or '(none)'!r}"
        for d in change.differences
    ]


@aws_task
def wait_for_alb_fields(
    ctx: AwsContext,
    arn: str,
    wanted: Mapping[str, str],
    *,
    stack: str | None = None,
    settings: Settings | None = None,
    member: str | None = None,
) -> LoadBalancerState:
    """Wait, bounded by the ALB timeout, until the load balancer has every declared field
    (`core.alb.desired_alb_fields`): after asking the controller to reconcile the Ingress."""
    elb, settings = client(ctx, "elbv2"), settings or get_settings()
    details = details_declared(wanted)

    def read() -> LoadBalancerState | None:
        found = read_load_balancer(elb, arn=arn, stack=stack)
        return found if found is None else with_details(ctx, found, details)

    state = wait_for(
        WAITS.alb_as_declared.of(arn),
        read,
        until=lambda found: not alb_differences(wanted, found, member=member),
        settings=settings,
        describe=lambda found: (
            "; ".join(alb_differences(wanted, found, member=member))
            + " (KFALB_ALB_TIMEOUT_SECONDS; check the controller's logs and the Ingress events)"
        ),
    )
    assert state is not None  # accepted only when it exists
    run_logger().info("Load balancer %s matches the Ingress again", state.dns_name)
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
    tags = tags_of(elb, lbs + groups)
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


def _listener_arns(elb: ElbClient, arn: str) -> list[str]:
    """The load balancer's listeners; none when it is gone (its controller deleted it)."""
    try:
        pages = elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
        return [listener["ListenerArn"] for page in pages for listener in page["Listeners"]]
    except ClientError as error:
        if error_code(error) == "LoadBalancerNotFound":
            return []
        raise


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
        WAITS.deletable.of(what),
        lambda: _attempt(action, busy=frozenset({busy})),
        until=bool,
        settings=settings,
        describe=lambda _: f"AWS still answers {busy}",
    )


def delete_security_group(ec2: EC2Client, group_id: str, settings: Settings) -> None:
    """Delete a security group the controller made: the node rules that name it first, then
    the group, tried again while a deleted ALB's network interfaces (they linger for a few
    minutes) still hold it."""
    unreference(ec2, group_id)
    delete_when_free(
        partial(ec2.delete_security_group, GroupId=group_id),
        busy="DependencyViolation",
        what=f"security group {group_id}",
        settings=settings,
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
                # InvalidPermission.NotFound: a resend whose first answer was lost; revoked.
                revoke = partial(
                    ec2.revoke_security_group_ingress, GroupId=other["GroupId"], IpPermissions=rules
                )
                _attempt(revoke, busy=_NONE)


@aws_task
def delete_controller_resources(
    ctx: AwsContext, spec: StackSpec, *, settings: Settings | None = None
) -> bool:
    """Delete what the controller left for this stack: listeners, load balancers (their deletion
    protection lifted first), target groups, then security groups, each wait bounded. False when
    nothing was left.

    Cleanup's fallback when the controller is gone before the Ingress it served.
    """
    elb, ec2, log = client(ctx, "elbv2"), client(ctx, "ec2"), run_logger()
    settings = settings or get_settings()
    found = find_leftovers(ctx, spec)
    if found.empty:
        return False
    for arn in found.load_balancer_arns:
        lift_protection(elb, arn)  # else AWS refuses the delete (OperationNotPermitted)
        for listener_arn in _listener_arns(elb, arn):
            _attempt(partial(elb.delete_listener, ListenerArn=listener_arn), busy=_NONE)
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
        delete_security_group(ec2, group_id, settings)
        log.info("Deleted security group %s", group_id)
    return True
