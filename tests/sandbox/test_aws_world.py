"""The AWS sandbox's seeded world, its levers and its lifecycle, checked through boto3."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox, SeededWorld

CA_PEM = b"-----BEGIN CERTIFICATE-----\nc2FuZGJveA==\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id="111111110004") as sandbox:
        sandbox.seed_world(k8s_endpoint="https://127.0.0.1:6443", k8s_ca_pem=CA_PEM)
        yield sandbox


@pytest.fixture(scope="module")
def world(aws: AwsSandbox) -> SeededWorld:
    assert aws.world is not None
    return aws.world


def test_env_points_plain_boto3_at_the_sandbox(
    aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in aws.env().items():
        monkeypatch.setenv(key, value)
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == aws.account_id
    assert aws.env()["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_cluster_is_active_with_vpc_endpoint_and_ca(aws: AwsSandbox, world: SeededWorld) -> None:
    cluster = aws.client("eks").describe_cluster(name="kubeflow")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert tuple(int(part) for part in cluster["version"].split(".")) >= (1, 31)
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["vpcId"] == world.vpc_id
    assert set(vpc["subnetIds"]) == set(world.public_subnet_ids + world.private_subnet_ids)
    assert cluster["endpoint"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificateAuthority"]["data"]) == CA_PEM
    assert re.fullmatch(
        r"https://oidc\.eks\.us-west-2\.amazonaws\.com/id/[0-9A-F]{32}", world.oidc_issuer
    )
    assert cluster["identity"]["oidc"]["issuer"] == world.oidc_issuer
    assert aws.client("iam").get_role(RoleName=cluster["roleArn"].rsplit("/", 1)[-1])


def test_no_oidc_provider_exists_for_the_issuer(aws: AwsSandbox) -> None:
    assert aws.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def _routes_by_subnet(ec2: Any, vpc_id: str) -> dict[str, list[dict[str, Any]]]:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "RouteTables"
    ]
    routes: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        for association in table.get("Associations", []):
            if "SubnetId" in association:
                routes[association["SubnetId"]] = table["Routes"]
    return routes


def test_public_subnets_route_to_an_internet_gateway_private_ones_do_not(
    aws: AwsSandbox, world: SeededWorld
) -> None:
    ec2 = aws.client("ec2")
    routes = _routes_by_subnet(ec2, world.vpc_id)
    for subnet in world.public_subnet_ids:
        assert any(r.get("GatewayId", "").startswith("igw-") for r in routes[subnet])
    for subnet in world.private_subnet_ids:
        assert not any(r.get("GatewayId", "").startswith("igw-") for r in routes[subnet])
    subnets = ec2.describe_subnets(SubnetIds=list(world.public_subnet_ids))["Subnets"]
    assert {s["AvailabilityZone"] for s in subnets} == {"us-west-2a", "us-west-2b"}
    assert ec2.describe_vpcs(VpcIds=[world.vpc_id])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"


def test_root_zone_is_public_with_an_unrelated_record(aws: AwsSandbox, world: SeededWorld) -> None:
    r53 = aws.client("route53")
    zones = r53.list_hosted_zones_by_name(DNSName="example.com", MaxItems="1")["HostedZones"]
    assert zones[0]["Name"] == "example.com."
    assert zones[0]["Config"]["PrivateZone"] is False
    assert world.root_zone_id is not None
    records = {(r["Name"], r["Type"]): r for r in aws.record_sets(world.root_zone_id)}
    www = records[("www.example.com.", "A")]
    assert www["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    assert www["TTL"] == 300


def test_cluster_status_can_change_and_the_cluster_can_go() -> None:
    with AwsSandbox(account_id="111111110005") as aws:
        aws.seed_world(cluster_name="other", root_in_route53=False)
        eks = aws.client("eks")
        aws.set_cluster_status("CREATING", cluster_name="other")
        assert eks.describe_cluster(name="other")["cluster"]["status"] == "CREATING"
        aws.delete_cluster("other")
        with pytest.raises(ClientError) as excinfo:
            eks.describe_cluster(name="other")
        assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert aws.world is not None
        assert aws.world.root_zone_id is None


def test_reset_forgets_everything_and_seeds_again() -> None:
    with AwsSandbox(account_id="111111110006") as aws:
        first = aws.seed_world()
        r53 = aws.client("route53")
        r53.create_hosted_zone(Name="extra.example.com", CallerReference="extra")
        second = aws.reset()
        assert second is not None
        assert second.vpc_id != first.vpc_id
        names = [name for _, name, _, _ in aws.route53_zones()]
        assert names == ["example.com."]
        r53.create_hosted_zone(Name="extra.example.com", CallerReference="extra")
