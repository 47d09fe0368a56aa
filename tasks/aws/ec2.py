"""Subnet role tags for the load balancer controller: classify subnets, add only missing tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core import desired, sharing
from core.errors import PreflightError
from core.resources import ClusterState, SubnetState, SubnetTagChange
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.cluster_lock import cluster_lease
from tasks.logs import run_logger

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

PUBLIC_ROLE_TAG = desired.PUBLIC_ROLE_TAG
PRIVATE_ROLE_TAG = desired.PRIVATE_ROLE_TAG


cluster_tag = desired.cluster_tag
desired_tags = desired.subnet_tags


def added_value(key: str) -> str:
    """The value setup gives a discovery tag it adds (see desired_tags)."""
    return "shared" if key.startswith("kubernetes.io/cluster/") else "1"


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
                    availability_zone=subnet.get("AvailabilityZone", ""),
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


#: An ALB needs subnets in at least two Availability Zones (ELBv2 CreateLoadBalancer).
MIN_ZONES = 2


def scheme_problem(
    subnets: Sequence[SubnetState], zones: dict[str, str], *, scheme: str, cluster: str
) -> str | None:
    """Why an ALB of `scheme` cannot be placed in the cluster's subnets, or None."""
    public = scheme == "internet-facing"
    fitting = [subnet for subnet in subnets if subnet.public == public]
    kind, tag = ("public", PUBLIC_ROLE_TAG) if public else ("private", PRIVATE_ROLE_TAG)
    other = "internal" if public else "internet-facing"
    in_zones = sorted({zones.get(subnet.subnet_id, "") for subnet in fitting} - {""})
    if not fitting:
        return (
            f"kubeflow.alb.scheme is {scheme}, but EKS cluster {cluster} has no {kind} subnet "
            f"({'a route 0.0.0.0/0 to an internet gateway' if public else 'no route to an internet gateway'}"
            f"; its subnets: {', '.join(s.subnet_id for s in subnets) or 'none'}). An {scheme} ALB "
            f"is placed in {kind} subnets ({tag}): add them to the cluster, or use scheme {other}."
        )
    if len(in_zones) < MIN_ZONES:
        return (
            f"kubeflow.alb.scheme is {scheme}, but EKS cluster {cluster}'s {kind} subnets "
            f"({', '.join(s.subnet_id for s in fitting)}) are in {len(in_zones)} Availability "
            f"Zone(s); an ALB needs subnets in at least {MIN_ZONES}."
        )
    return None


@aws_task
def preflight_subnets(
    ctx: AwsContext,
    cluster: ClusterState,
    *,
    scheme: str,
    subnets: Sequence[SubnetState] | None = None,
) -> None:
    """Check (read only) that the cluster has subnets an ALB of this scheme can be placed in:
    public ones for internet-facing, private ones for internal, in two Availability Zones
    (`subnets`: as already observed, which saves the reads)."""
    if not cluster.vpc_id or not cluster.subnet_ids:
        raise PreflightError(f"EKS cluster {cluster.name} reports no VPC subnets.")
    if subnets is None:
        subnets = read_subnets(client(ctx, "ec2"), cluster.vpc_id, cluster.subnet_ids)
    zones = {subnet.subnet_id: subnet.availability_zone for subnet in subnets}
    problem = scheme_problem(subnets, zones, scheme=scheme, cluster=cluster.name)
    if problem:
        raise PreflightError(problem)


@aws_task
def ensure_subnet_tags(
    ctx: AwsContext, cluster: ClusterState, *, stack: str | None = None
) -> tuple[SubnetTagChange, ...]:
    """Tag the cluster's subnets for ALB discovery where the tag key is missing.

    Public subnets get `kubernetes.io/role/elb=1`, private ones `kubernetes.io/role/internal-elb=1`,
    all `kubernetes.io/cluster/<cluster>=shared`. With a stack, each subnet tagged also gets the
    marker `kubeflow-alb/added-tags/<stack>` listing the keys added. Returns exactly the tags
    added (marker included), so cleanup removes only those. Read and written under the
    cluster's lock: a tag another stack is removing is never taken as there.
    """
    with cluster_lease(ctx.region, cluster.name, holder=stack or ""):
        return _ensure_tags(client(ctx, "ec2"), cluster, stack)


def _ensure_tags(
    ec2: EC2Client, cluster: ClusterState, stack: str | None
) -> tuple[SubnetTagChange, ...]:
    subnets = read_subnets(ec2, cluster.vpc_id or "", cluster.subnet_ids)
    added: list[SubnetTagChange] = []
    # CreateTags puts every tag on every resource it names: one call per distinct set of tags
    # (in a usual VPC two: the public subnets' and the private ones').
    by_tags: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for subnet in subnets:
        tags = missing_tags(subnet, cluster.name)
        # Tags another stack added and this one needs too: held by listing them in our marker.
        held = set() if stack is None else _to_hold(subnet, cluster.name, stack)
        if not tags and not held:
            continue
        if stack is not None:
            tags[sharing.marker_key(stack)] = _marker(
                subnet, {**tags, **dict.fromkeys(held)}, stack
            )
        added += [
            SubnetTagChange(subnet_id=subnet.subnet_id, key=k, value=v) for k, v in tags.items()
        ]
        by_tags.setdefault(tuple(sorted(tags.items())), []).append(subnet.subnet_id)
    for tags_to_add, subnet_ids in by_tags.items():
        ec2.create_tags(Resources=subnet_ids, Tags=[{"Key": k, "Value": v} for k, v in tags_to_add])
        run_logger().info(
            "Tagged subnets %s with %s",
            ", ".join(subnet_ids),
            ", ".join(f"{k}={v}" for k, v in tags_to_add),
        )
    return tuple(added)


def _to_hold(subnet: SubnetState, cluster_name: str, stack: str) -> set[str]:
    return {
        key
        for key in desired_tags(subnet, cluster_name)
        if key in subnet.tags and not sharing.holds(subnet.tags, key, stack)
    }


def _marker(subnet: SubnetState, tags: Mapping[str, object], stack: str) -> str:
    """The keys the stack added to a subnet, merged with an earlier run's marker."""
    earlier = set(filter(None, subnet.tags.get(sharing.marker_key(stack), "").split(",")))
    return ",".join(sorted(set(tags) | earlier))


@aws_task
def observe_added_subnet_tags(
    ctx: AwsContext, stack: str, recorded: Sequence[SubnetTagChange] = ()
) -> tuple[SubnetTagChange, ...]:
    """The tags a stack added that are still there with the value it set: those `recorded` in its
    block plus those its markers list (so they are found without the block), but not those
    another stack's marker lists too (they stay for that stack); markers last."""
    ec2, marker = client(ctx, "ec2"), sharing.marker_key(stack)
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "tag-key", "Values": [marker]}]
    )
    current = {
        subnet["SubnetId"]: {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}
        for page in pages
        for subnet in page["Subnets"]
    }
    listed = [
        SubnetTagChange(subnet_id=subnet_id, key=key, value=added_value(key))
        for subnet_id, tags in current.items()
        for key in filter(None, tags[marker].split(","))
    ]
    marks = [SubnetTagChange(subnet_id=s, key=marker, value=t[marker]) for s, t in current.items()]
    wanted = list(dict.fromkeys([*recorded, *listed, *marks]))
    unknown = sorted({change.subnet_id for change in wanted} - set(current))
    if unknown:
        pages = ec2.get_paginator("describe_subnets").paginate(
            Filters=[{"Name": "subnet-id", "Values": unknown}]
        )
        for page in pages:
            for subnet in page["Subnets"]:
                current[subnet["SubnetId"]] = {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}
    present = [
        c
        for c in wanted
        if current.get(c.subnet_id, {}).get(c.key) == c.value
        # A tag another stack holds too is not this stack's to remove (nor a leftover of it).
        and (c.key == marker or not sharing.kept_for_others(current[c.subnet_id], c.key, {marker}))
    ]
    return tuple(
        sorted(present, key=lambda change: change.key.startswith(sharing.ADDED_TAGS_PREFIX))
    )


def _current_tags(ec2: EC2Client, subnet_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "subnet-id", "Values": list(subnet_ids)}]
    )
    return {
        subnet["SubnetId"]: {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}
        for page in pages
        for subnet in page["Subnets"]
    }


def _held_keys(
    added: Sequence[SubnetTagChange], current: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Per subnet, the discovery tags the leaving stack holds (key -> the value it set): those
    recorded, and those its marker lists (as it is now, or as recorded)."""
    held: dict[str, dict[str, str]] = {}
    for change in added:
        keys = held.setdefault(change.subnet_id, {})
        if not change.key.startswith(sharing.ADDED_TAGS_PREFIX):
            keys[change.key] = change.value
            continue
        listed = current.get(change.subnet_id, {}).get(change.key) or change.value
        for key in filter(None, listed.split(",")):
            keys.setdefault(key, added_value(key))
    return held


def _cluster_of(added: Sequence[SubnetTagChange]) -> str:
    """The cluster a stack's subnet tags are for, from its cluster tag (or its markers)."""
    prefix = cluster_tag("")
    keys = [c.key for c in added] + [k for c in added for k in c.value.split(",")]
    return next((key.removeprefix(prefix) for key in keys if key.startswith(prefix)), "")


@aws_task
def delete_subnet_tags(
    ctx: AwsContext, added: Sequence[SubnetTagChange], *, cluster_name: str = ""
) -> bool:
    """Remove the stack's hold of the subnet discovery tags: per subnet, one DeleteTags call takes
    its marker off together with each tag it held that no other stack's marker lists, where the
    tag still has the value it set. One call, so a kill leaves the hold whole or gone: a resumed
    cleanup never finds tags whose marker is gone without them. Under the lock of the cluster
    (`cluster_name`, else the one the tags name), so two stacks leaving at once read each
    other's result: whichever goes last finds no other marker and removes the tags. False when
    there was nothing left to remove."""
    if not added:
        return False
    markers = sorted({c.key for c in added if c.key.startswith(sharing.ADDED_TAGS_PREFIX)})
    holder = markers[0].removeprefix(sharing.ADDED_TAGS_PREFIX) if len(markers) == 1 else ""
    with cluster_lease(ctx.region, cluster_name or _cluster_of(added), holder=holder):
        return _release_tags(client(ctx, "ec2"), added, markers)


#: One DeleteTags entry: a key (any value) or a key with the value it must still have.
_Deletion = tuple[str, str | None]


def _release_tags(ec2: EC2Client, added: Sequence[SubnetTagChange], markers: Sequence[str]) -> bool:
    subnet_ids = sorted({change.subnet_id for change in added})
    before = _current_tags(ec2, subnet_ids)
    held = _held_keys(added, before)
    calls: dict[tuple[_Deletion, ...], list[str]] = {}
    for subnet_id in subnet_ids:
        tags = before.get(subnet_id, {})
        mine = [marker for marker in markers if marker in tags]
        others = {key: value for key, value in tags.items() if key not in mine}
        dropped: list[_Deletion] = []
        for key, value in held.get(subnet_id, {}).items():
            users = sharing.tag_users(others, key)
            if users:
                run_logger().info(
                    "Kept %s on subnet %s: stacks %s still use it", key, subnet_id, ", ".join(users)
                )
            elif tags.get(key) == value:
                dropped.append((key, value))
        deletions = (*((marker, None) for marker in mine), *sorted(dropped))
        if deletions:
            calls.setdefault(deletions, []).append(subnet_id)
    for deletions, ids in calls.items():
        # With a Value, DeleteTags removes the tag only where it still has that value.
        ec2.delete_tags(
            Resources=ids,
            Tags=[
                {"Key": key} if value is None else {"Key": key, "Value": value}
                for key, value in deletions
            ],
        )
        run_logger().info(
            "Removed %s from subnets %s",
            ", ".join(key if value is None else f"{key}={value}" for key, value in deletions),
            ", ".join(ids),
        )
    return bool(calls)
