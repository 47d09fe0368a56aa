"""Subnet auto-discovery as the v2.17 controller does it: role tags, else reachability.

The controller lists the VPC's subnets with the scheme's role tag (``kubernetes.io/role/elb``
for internet-facing, ``kubernetes.io/role/internal-elb`` for internal); when none has it and
``SubnetDiscoveryByReachability`` is on (the default), it takes the subnets whose route table
does (internet-facing) or does not (internal) send traffic to an internet gateway. Subnets
tagged for another cluster and nearly full ones are dropped, one subnet per zone is kept, and
an ALB needs two.
"""

from __future__ import annotations

from typing import Any

from sandbox.albcontroller.access import Aws, AwsCallError
from sandbox.albcontroller.model import BuildError

PUBLIC_ROLE = "kubernetes.io/role/elb"
INTERNAL_ROLE = "kubernetes.io/role/internal-elb"
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
MIN_FREE_ADDRESSES = 8
ALB_MIN_SUBNETS = 2


def role_tag(scheme: str) -> str:
    return PUBLIC_ROLE if scheme == "internet-facing" else INTERNAL_ROLE


def _tags(subnet: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in subnet.get("Tags", [])}


def with_role_tag(subnets: list[dict[str, Any]], scheme: str) -> list[dict[str, Any]]:
    role = role_tag(scheme)
    return [s for s in subnets if _tags(s).get(role, None) in ("", "1")]


def reachable(
    subnets: list[dict[str, Any]], route_tables: list[dict[str, Any]], scheme: str
) -> list[dict[str, Any]]:
    """Subnets whose route table (explicit, else the VPC's main one) reaches an IGW, or not."""
    main = next(
        (t for t in route_tables if any(a.get("Main") for a in t.get("Associations", []))), None
    )
    wanted_public = scheme == "internet-facing"
    chosen = []
    for subnet in subnets:
        table = next(
            (
                t
                for t in route_tables
                for a in t.get("Associations", [])
                if a.get("SubnetId") == subnet["SubnetId"]
            ),
            main,
        )
        routes = (table or {}).get("Routes", [])
        public = any(str(r.get("GatewayId", "")).startswith("igw") for r in routes)
        if public == wanted_public:
            chosen.append(subnet)
    return chosen


def choose(subnets: list[dict[str, Any]], cluster: str) -> list[str]:
    """One eligible subnet per availability zone; at least two for an ALB."""
    mine = CLUSTER_TAG_PREFIX + cluster
    other_cluster, too_full, eligible = [], [], []
    for subnet in subnets:
        tags = _tags(subnet)
        clusters = [key for key in tags if key.startswith(CLUSTER_TAG_PREFIX)]
        if clusters and mine not in clusters:
            other_cluster.append(subnet)
        elif int(subnet.get("AvailableIpAddressCount", 256)) < MIN_FREE_ADDRESSES:
            too_full.append(subnet)
        else:
            eligible.append(subnet)
    per_zone: dict[str, dict[str, Any]] = {}
    for subnet in sorted(eligible, key=lambda s: (mine not in _tags(s), s["SubnetId"])):
        per_zone.setdefault(subnet["AvailabilityZone"], subnet)
    if not per_zone:
        raise BuildError(
            "couldn't auto-discover subnets: unable to resolve at least one subnet. Evaluated "
            f"{len(subnets)} subnets: {len(other_cluster)} are tagged for other clusters, and "
            f"{len(too_full)} have insufficient available IP addresses"
        )
    if len(per_zone) < ALB_MIN_SUBNETS:
        raise BuildError(
            "couldn't auto-discover subnets: subnets count less than minimal required count: "
            f"{len(per_zone)} < {ALB_MIN_SUBNETS}"
        )
    return sorted(subnet["SubnetId"] for subnet in per_zone.values())


def discover_subnets(
    aws: Aws, *, vpc_id: str, scheme: str, cluster: str, by_reachability: bool
) -> list[str]:
    """The subnets for a new ALB; errors are worded as the controller's build-model errors."""
    vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    try:
        listed = aws.call("ec2", "DescribeSubnets", Filters=vpc)["Subnets"]
    except AwsCallError as error:
        raise BuildError(
            f"couldn't auto-discover subnets: failed to list subnets by role tag: {error}"
        ) from None
    chosen = with_role_tag(listed, scheme)
    if not chosen and by_reachability:
        try:
            tables = aws.call("ec2", "DescribeRouteTables", Filters=vpc)["RouteTables"]
        except AwsCallError as error:
            raise BuildError(
                f"couldn't auto-discover subnets: failed to list subnets by reachability: {error}"
            ) from None
        chosen = reachable(listed, tables, scheme)
    return choose(chosen, cluster)
