"""The world the sandbox starts with: a VPC, an ACTIVE EKS cluster in it, and a public root zone.

Everything is created with boto3 through the sandbox's own endpoint, so it obeys the same
rules as the project's calls. Public subnets route 0.0.0.0/0 to an internet gateway,
private ones to a NAT gateway; no subnet carries a load balancer role tag, and no IAM OIDC
provider exists for the cluster's issuer (in AWS the user or a tool creates it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

UNRELATED_RECORD = ("www", "A", "192.0.2.10")
CLUSTER_VERSION = "1.32"


@dataclass(frozen=True)
class SeededWorld:
    """Ids of what ``seed_world`` made."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    root_zone_id: str | None
    cluster_name: str
    oidc_issuer: str
    cluster_role_arn: str
    root_domain: str
    region: str


def _tags(name: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": name}]


def _subnet(ec2: Any, vpc_id: str, cidr: str, zone: str, name: str) -> str:
    subnet = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=cidr,
        AvailabilityZone=zone,
        TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(name)}],
    )
    return str(subnet["Subnet"]["SubnetId"])


def _route_table(ec2: Any, vpc_id: str, name: str, subnet_ids: list[str]) -> str:
    table = ec2.create_route_table(
        VpcId=vpc_id, TagSpecifications=[{"ResourceType": "route-table", "Tags": _tags(name)}]
    )
    table_id = str(table["RouteTable"]["RouteTableId"])
    for subnet_id in subnet_ids:
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    return table_id


def seed_network(ec2: Any, region: str, cluster_name: str) -> tuple[str, list[str], list[str]]:
    """VPC 10.0.0.0/16; two public subnets behind an IGW, two private behind a NAT gateway."""
    vpc_id = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(f"{cluster_name}-vpc")}],
    )["Vpc"]["VpcId"]
    public = [
        _subnet(ec2, vpc_id, "10.0.0.0/19", f"{region}a", f"{cluster_name}-public-a"),
        _subnet(ec2, vpc_id, "10.0.32.0/19", f"{region}b", f"{cluster_name}-public-b"),
    ]
    private = [
        _subnet(ec2, vpc_id, "10.0.64.0/19", f"{region}a", f"{cluster_name}-private-a"),
        _subnet(ec2, vpc_id, "10.0.96.0/19", f"{region}b", f"{cluster_name}-private-b"),
    ]
    gateway_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    public_table = _route_table(ec2, vpc_id, f"{cluster_name}-public", public)
    ec2.create_route(
        RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway_id
    )
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=allocation_id)["NatGateway"][
        "NatGatewayId"
    ]
    private_table = _route_table(ec2, vpc_id, f"{cluster_name}-private", private)
    ec2.create_route(
        RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id
    )
    return str(vpc_id), public, private


def seed_cluster_role(iam: Any, cluster_name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=f"{cluster_name}-cluster-role", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def seed_root_zone(route53: Any, root_domain: str) -> str:
    zone = route53.create_hosted_zone(
        Name=root_domain, CallerReference=f"sandbox-root-{root_domain}"
    )
    zone_id = str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    label, rtype, value = UNRELATED_RECORD
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{label}.{root_domain}",
                        "Type": rtype,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )
    return zone_id


#: The role in the root zone's account that kubeflow-alb assumes for the root zone's records.
ROOT_DNS_ROLE = "kfalb-root-dns"


@dataclass(frozen=True)
class RootAccount:
    """The root zone in an account of its own (a DNS account), and the role that reaches it."""

    account_id: str
    root_zone_id: str
    role_arn: str
    external_id: str | None = None


def root_dns_trust(workload_account: str, *, external_id: str | None = None) -> dict[str, Any]:
    """The trust policy of the root account's role: the workload account may assume it."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{workload_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def root_dns_permissions() -> str:
    """What the role may do in the root account: the policy kubeflow-alb documents for it."""
    return (files("kfalb_deployments") / "root-dns-role-policy.json").read_text()


def seed_root_account(
    route53: Any,
    iam: Any,
    *,
    account_id: str,
    workload_account: str,
    root_domain: str,
    external_id: str | None = None,
) -> RootAccount:
    """The public root zone and the role `kfalb-root-dns` trusting the workload account, made
    with clients that act in `account_id`."""
    zone_id = seed_root_zone(route53, root_domain)
    role = iam.create_role(
        RoleName=ROOT_DNS_ROLE,
        AssumeRolePolicyDocument=json.dumps(
            root_dns_trust(workload_account, external_id=external_id)
        ),
        Description="kubeflow-alb: the root zone's delegation and validation records",
    )
    iam.put_role_policy(
        RoleName=ROOT_DNS_ROLE,
        PolicyName="root-zone-records",
        PolicyDocument=root_dns_permissions(),
    )
    return RootAccount(
        account_id=account_id,
        root_zone_id=zone_id,
        role_arn=str(role["Role"]["Arn"]),
        external_id=external_id,
    )


def seed(
    make_client: Callable[[str], Any],
    *,
    region: str,
    cluster_name: str,
    root_domain: str,
    root_in_route53: bool,
    pod_identity_agent: bool = True,
) -> SeededWorld:
    """Create the world through the sandbox's endpoint (`make_client(service)`: a client for
    it); EKS tweaks are the caller's. The cluster gets the eks-pod-identity-agent add-on unless
    `pod_identity_agent` is False."""
    client = functools.cache(make_client)  # one client per service

    vpc_id, public, private = seed_network(client("ec2"), region, cluster_name)
    role_arn = seed_cluster_role(client("iam"), cluster_name)
    cluster = client("eks").create_cluster(
        name=cluster_name,
        version=CLUSTER_VERSION,
        roleArn=role_arn,
        resourcesVpcConfig={"subnetIds": public + private},
    )["cluster"]
    if pod_identity_agent:
        client("eks").create_addon(clusterName=cluster_name, addonName="eks-pod-identity-agent")
    root_zone_id = seed_root_zone(client("route53"), root_domain) if root_in_route53 else None
    return SeededWorld(
        vpc_id=vpc_id,
        public_subnet_ids=tuple(public),
        private_subnet_ids=tuple(private),
        root_zone_id=root_zone_id,
        cluster_name=cluster_name,
        oidc_issuer=str(cluster["identity"]["oidc"]["issuer"]),
        cluster_role_arn=role_arn,
        root_domain=root_domain,
        region=region,
    )
