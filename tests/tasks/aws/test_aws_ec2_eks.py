"""EKS preflight, caller identity and subnet role tags against moto."""

from __future__ import annotations

import pytest

from core.errors import PreflightError
from tasks.aws import ec2, eks, sts


def _tags(boto, subnet_id: str) -> dict[str, str]:
    """The subnet's tags except its Name."""
    found = boto("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    return {tag["Key"]: tag["Value"] for tag in found.get("Tags", []) if tag["Key"] != "Name"}


def test_caller_identity(ctx):
    identity = sts.observe_caller_identity.fn(ctx)
    assert identity.account == "210987654321"
    assert identity.partition == "aws"


def test_preflight_reads_the_cluster_and_its_vpc(ctx, world):
    cluster = eks.preflight_cluster.fn(ctx, world.cluster_name)
    assert cluster.status == "ACTIVE"
    assert cluster.vpc_id == world.vpc_id
    assert set(cluster.subnet_ids) == {*world.public_subnets, *world.private_subnets}
    assert cluster.oidc_host_path is not None
    assert cluster.oidc_host_path.startswith("oidc.eks.us-west-2.amazonaws.com/id/")


def test_preflight_names_a_missing_cluster_and_region(ctx, world):
    assert eks.observe_cluster.fn(ctx, "nope") is None
    with pytest.raises(PreflightError, match="'nope' in region us-west-2 does not exist"):
        eks.preflight_cluster.fn(ctx, "nope")


def test_subnets_are_classified_by_route_table(ctx, world):
    cluster = eks.observe_cluster.fn(ctx, world.cluster_name)
    subnets = {subnet.subnet_id: subnet.public for subnet in ec2.observe_subnets.fn(ctx, cluster)}
    assert subnets == {
        **dict.fromkeys(world.public_subnets, True),
        **dict.fromkeys(world.private_subnets, False),
    }


def test_a_subnet_without_its_own_table_follows_the_main_one(ctx, world, boto):
    ec2_client = boto("ec2")
    loose = ec2_client.create_subnet(VpcId=world.vpc_id, CidrBlock="10.0.200.0/24")["Subnet"]
    cluster = eks.observe_cluster.fn(ctx, world.cluster_name)
    cluster = cluster.model_copy(update={"subnet_ids": (*cluster.subnet_ids, loose["SubnetId"])})
    tables = ec2_client.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [world.vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    (main,) = tables
    (state,) = [s for s in ec2.observe_subnets.fn(ctx, cluster) if s.subnet_id == loose["SubnetId"]]
    assert (state.public, state.route_table_id) == (False, main["RouteTableId"])

    gateway = ec2_client.describe_internet_gateways()["InternetGateways"][0]["InternetGatewayId"]
    ec2_client.create_route(
        RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway
    )
    (state,) = [s for s in ec2.observe_subnets.fn(ctx, cluster) if s.subnet_id == loose["SubnetId"]]
    assert state.public


def test_subnet_tags_added_only_where_missing_and_removed_exactly(ctx, world, boto, mutations):
    kept = world.public_subnets[0]
    # A key present with any value counts as present, and is never removed by cleanup.
    boto("ec2").create_tags(Resources=[kept], Tags=[{"Key": "kubernetes.io/role/elb", "Value": ""}])
    cluster = eks.observe_cluster.fn(ctx, world.cluster_name)
    added = ec2.ensure_subnet_tags.fn(ctx, cluster)

    cluster_tag = "kubernetes.io/cluster/kubeflow"
    assert {(c.subnet_id, c.key) for c in added} == {
        (world.public_subnets[1], "kubernetes.io/role/elb"),
        *((s, "kubernetes.io/role/internal-elb") for s in world.private_subnets),
        *((s, cluster_tag) for s in [*world.public_subnets, *world.private_subnets]),
    }
    assert _tags(boto, world.private_subnets[0])["kubernetes.io/role/internal-elb"] == "1"
    assert mutations(lambda: ec2.ensure_subnet_tags.fn(ctx, cluster)) == []

    # Someone changed one of our tags meanwhile: cleanup leaves that one alone.
    boto("ec2").create_tags(Resources=[kept], Tags=[{"Key": cluster_tag, "Value": "owned"}])
    assert ec2.delete_subnet_tags.fn(ctx, added)
    assert _tags(boto, kept) == {"kubernetes.io/role/elb": "", cluster_tag: "owned"}
    assert _tags(boto, world.private_subnets[1]) == {}
    assert not ec2.delete_subnet_tags.fn(ctx, added)


def test_preflight_refuses_a_cluster_that_is_not_active(ctx, world, sandbox):
    sandbox.set_cluster_status("UPDATING", cluster_name=world.cluster_name)
    with pytest.raises(PreflightError, match="is UPDATING, not ACTIVE"):
        eks.preflight_cluster.fn(ctx, world.cluster_name)
