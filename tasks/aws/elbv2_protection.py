"""Deletion protection of an ALB (core/alb_options.py): AWS refuses DeleteLoadBalancer while it
is on, so cleanup lifts it first and waits until the ALB says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.alb_options import cleanup_attributes, describe_cleanup, lifted
from core.settings import Settings, get_settings
from core.waits import WAITS
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import error_code, or_none
from tasks.logs import run_logger
from tasks.waits import wait_for

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client as ElbClient
    from mypy_boto3_elbv2.type_defs import LoadBalancerAttributeTypeDef


def attributes_of(elb: ElbClient, arn: str) -> dict[str, str] | None:
    """The load balancer's attributes, or None once it is gone."""
    found = or_none(
        "LoadBalancerNotFound",
        lambda: elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"],
    )
    if found is None:
        return None
    return {item.get("Key", ""): item.get("Value", "") for item in found}


def lift_protection(elb: ElbClient, arn: str) -> bool:
    """Set the cleanup values on the load balancer (deletion protection off) unless it has them;
    True when it was changed. Cleanup's fallback, when no controller is left to do it."""
    seen = attributes_of(elb, arn)
    if seen is None or lifted(seen):
        return False
    changes: list[LoadBalancerAttributeTypeDef] = [
        {"Key": key, "Value": value} for key, value in cleanup_attributes().items()
    ]
    try:
        elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=changes)
    except ClientError as error:
        if error_code(error) == "LoadBalancerNotFound":
            return False
        raise
    run_logger().info("Load balancer %s: %s, so it can be deleted", arn, describe_cleanup())
    return True


def wait_for_protection_lifted(
    ctx: AwsContext, dns_name: str, *, settings: Settings | None = None
) -> str | None:
    """Wait, bounded by the ALB timeout, until the load balancer with this DNS name has the
    cleanup values (its controller applied the Ingress's annotation) or is gone. Its ARN, or
    None when there was none."""
    elb, settings = client(ctx, "elbv2"), settings or get_settings()
    wanted = dns_name.lower().rstrip(".").removeprefix("dualstack.")
    pages = elb.get_paginator("describe_load_balancers").paginate()
    arns = [
        lb["LoadBalancerArn"]
        for page in pages
        for lb in page["LoadBalancers"]
        if lb["DNSName"].lower() == wanted
    ]
    if not arns:
        return None
    arn = arns[0]
    seen = wait_for(
        WAITS.alb_unprotected.of(arn, describe_cleanup()),
        lambda: attributes_of(elb, arn),
        until=lambda found: found is None or lifted(found),
        settings=settings,
        describe=lambda found: "it is gone" if found is None else _describe(found),
    )
    if seen is not None:
        run_logger().info(
            "Deletion protection of load balancer %s is lifted (%s): its controller can delete it",
            arn,
            describe_cleanup(),
        )
    return arn


def _describe(found: dict[str, str]) -> str:
    return ", ".join(f"{key}={found.get(key, '(none)')}" for key in cleanup_attributes())
