"""Subnet role tags for the load balancer controller: classify subnets, add only missing tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.resources import ClusterState, SubnetState, SubnetTagChange
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.aws.logs import run_logger

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PUBLIC_ROLE_TAG = "kubernetes.io/role/elb"
PRIVATE_ROLE_TAG = "kubernetes.io/role/internal-elb"


def cluster_tag(cluster_name: str) -> str:
    return f"kubernetes.io/cluster/{cluster_name}"


def desired_tags(subnet: SubnetState, cluster_name: str) -> dict[str, str]:
    """The controller's discovery tags for a subnet: its role and the cluster."""
    role = PUBLIC_ROLE_TAG if subnet.public else PRIVATE_ROLE_TAG
    return {role: "1", cluster_tag(cluster_name): "shared"}


def missing_tags(subnet: SubnetState, cluster_name: str) -> dict[str, str]:
    """Desired tags whose key the subnet lacks (a key with any value counts as present)."""
    return {k: v for k, v in desired_tags(subnet, cluster_name).items() if k not in subnet.tags}


def _is_public(table: dict[str, Any]) -> bool:
    return any(
        route.get("DestinationCidrBlock") == "0.0.0.0/0"
        and str(route.get("GatewayId", "")).startswith("igw-")
        for route in table.get("Routes", [])
    )


def read_subnets(ec2: EC2Client, vpc_id: str, subnet_ids: Sequence[str]) -> tuple[SubnetState, ...]:
    """The subnets, each classified by its route table (explicit association, else the main)."""
    tables = ec2.get_paginator("describe_route_tables").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    explicit: dict[str, dict[str, Any]] = {}
    main: dict[str, Any] | None = None
    for table_page in tables:
        for raw_table in table_page["RouteTables"]:
            for association in raw_table.get("Associations", []):
                if association.get("Main"):
                    main = dict(raw_table)
                elif association.get("SubnetId"):
                    explicit[association["SubnetId"]] = dict(raw_table)
    found = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "subnet-id", "Values": list(subnet_ids)}]
    )
    states = []
    for page in found:
        for subnet in page["Subnets"]:
            table = explicit.get(subnet["SubnetId"], main)
            states.append(
                SubnetState(
                    subnet_id=subnet["SubnetId"],
                    vpc_id=subnet["VpcId"],
                    public=table is not None and _is_public(table),
                    route_table_id=table["RouteTableId"] if table else None,
                    tags={tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])},
                )
            )
    return tuple(sorted(states, key=lambda state: subnet_ids.index(state.subnet_id)))


@aws_task
def observe_subnets(ctx: AwsContext, cluster: ClusterState) -> tuple[SubnetState, ...]:
    """Read the cluster's subnets with their tags, classified public or private."""
    if not cluster.vpc_id:
        return ()
    return read_subnets(client(ctx, "ec2"), cluster.vpc_id, cluster.subnet_ids)


@aws_task
def ensure_subnet_tags(ctx: AwsContext, cluster: ClusterState) -> tuple[SubnetTagChange, ...]:
    """Tag the cluster's subnets for ALB discovery where the tag key is missing.

    Public subnets get `kubernetes.io/role/elb=1`, private ones `kubernetes.io/role/internal-elb=1`,
    all `kubernetes.io/cluster/<cluster>=shared`. Returns exactly the tags added, so cleanup
    removes only those.
    """
    ec2 = client(ctx, "ec2")
    subnets = read_subnets(ec2, cluster.vpc_id or "", cluster.subnet_ids)
    added = [
        SubnetTagChange(subnet_id=subnet.subnet_id, key=key, value=value)
        for subnet in subnets
        for key, value in missing_tags(subnet, cluster.name).items()
    ]
    # One CreateTags call per distinct tag, covering every subnet that lacks it.
    by_tag: dict[tuple[str, str], list[str]] = {}
    for change in added:
        by_tag.setdefault((change.key, change.value), []).append(change.subnet_id)
    for (key, value), subnet_ids in by_tag.items():
        ec2.create_tags(Resources=subnet_ids, Tags=[{"Key": key, "Value": value}])
        run_logger().info("Tagged subnets %s with %s=%s", ", ".join(subnet_ids), key, value)
    return tuple(added)


@aws_task
def delete_subnet_tags(ctx: AwsContext, added: Sequence[SubnetTagChange]) -> bool:
    """Remove the subnet tags setup added, where they still carry the value we set.

    False when there was nothing left to remove (subnets gone or tags already removed).
    """
    if not added:
        return False
    ec2 = client(ctx, "ec2")
    subnet_ids = sorted({change.subnet_id for change in added})
    current: dict[str, dict[str, str]] = {}
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "subnet-id", "Values": subnet_ids}]
    )
    for page in pages:
        for subnet in page["Subnets"]:
            tags = {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}
            current[subnet["SubnetId"]] = tags
    by_tag: dict[tuple[str, str], list[str]] = {}
    for change in added:
        if current.get(change.subnet_id, {}).get(change.key) == change.value:
            by_tag.setdefault((change.key, change.value), []).append(change.subnet_id)
    for (key, value), ids in by_tag.items():
        # With a Value, DeleteTags removes the tag only where it still has that value.
        ec2.delete_tags(Resources=ids, Tags=[{"Key": key, "Value": value}])
        run_logger().info("Removed %s=%s from subnets %s", key, value, ", ".join(ids))
    return bool(by_tag)
