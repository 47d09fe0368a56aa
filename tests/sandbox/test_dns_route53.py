"""Tests of the DNS server answering from moto's Route53 backend, changed through boto3.

The changes go through the AWS sandbox (moto in server mode, an account of this module's own);
moto's in-process mock would reset every account in the process, other tests' worlds included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from sandbox.dns import DnsServer, Rcode, Route53BackendSource

ACCOUNT = "311111110043"
#: An account no test uses (moto is process-wide: another module's account may hold zones).
UNUSED_ACCOUNT = "311111110049"


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id=ACCOUNT, region="us-east-1") as sandbox:
        yield sandbox


@pytest.fixture
def route53(aws: AwsSandbox) -> Any:
    aws.reset()  # every test starts from an empty account
    return aws.client("route53")


@pytest.fixture
def alb(aws: AwsSandbox, route53: Any) -> tuple[str, str]:
    """A load balancer (Route53 only aliases to one that exists): DNS name, alias zone id."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    created = aws.client("elbv2").create_load_balancer(
        Name="k8s-istiosys-kubeflow", Subnets=subnets
    )
    balancer = created["LoadBalancers"][0]
    return balancer["DNSName"], balancer["CanonicalHostedZoneId"]


def _zone(client: Any, name: str) -> tuple[str, list[str]]:
    zone = client.create_hosted_zone(Name=name, CallerReference=name)
    return zone["HostedZone"]["Id"], zone["DelegationSet"]["NameServers"]


def _upsert(client: Any, zone_id: str, record: dict[str, Any]) -> None:
    change = {"Action": "UPSERT", "ResourceRecordSet": record}
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [change]})


def _ns(name: str, values: list[str]) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "NS",
        "TTL": 300,
        "ResourceRecords": [{"Value": v} for v in values],
    }


def test_source_reads_zones_records_and_aliases(route53: Any, alb: tuple[str, str]) -> None:
    name, alias_zone = alb
    root_id, root_ns = _zone(route53, "example.com")
    alias = {"HostedZoneId": alias_zone, "DNSName": name, "EvaluateTargetHealth": False}
    _upsert(route53, root_id, {"Name": "app.example.com", "Type": "A", "AliasTarget": alias})
    (zone,) = Route53BackendSource(ACCOUNT).zones()
    assert (zone.zone_id, zone.name, zone.private) == (
        root_id.split("/")[-1],
        "example.com.",
        False,
    )
    assert list(zone.name_servers) == root_ns
    by_type = {(r.name, r.type): r for r in zone.records}
    # The SOA as zone-file text: primary, hostmaster, serial, refresh, retry, expire, minimum.
    assert by_type[("example.com.", "SOA")].values[0].split()[2:] == [
        "1",
        "7200",
        "900",
        "1209600",
        "86400",
    ]
    assert by_type[("example.com.", "NS")].ttl == 172800
    app = by_type[("app.example.com.", "A")]
    assert app.alias is not None
    assert app.alias.dns_name == f"{name}."  # Route53 keeps names fully qualified
    assert not app.values


def test_other_accounts_are_separate(route53: Any) -> None:
    _zone(route53, "example.com")
    assert Route53BackendSource(account_id=UNUSED_ACCOUNT).zones() == []


def test_subdomain_follows_ns_delegation_in_the_root_zone(
    route53: Any, alb: tuple[str, str]
) -> None:
    name, alias_zone = alb
    root_id, _ = _zone(route53, "example.com")
    sub_id, sub_ns = _zone(route53, "sub.example.com")
    alias = {
        "HostedZoneId": alias_zone,
        "DNSName": f"dualstack.{name}",
        "EvaluateTargetHealth": True,
    }
    _upsert(route53, sub_id, {"Name": "*.sub.example.com", "Type": "A", "AliasTarget": alias})
    dns = DnsServer(Route53BackendSource(ACCOUNT), alb_exists=lambda target: target == name)
    assert dns.resolve("kubeflow.sub.example.com", "A").rcode == Rcode.NXDOMAIN
    assert dns.resolve_at("kubeflow.sub.example.com", "A", sub_id).values("A") == ["127.0.0.1"]

    _upsert(route53, root_id, _ns("sub.example.com", ["ns-1.elsewhere.test"]))
    assert dns.resolve("kubeflow.sub.example.com", "A").rcode == Rcode.SERVFAIL

    _upsert(route53, root_id, _ns("sub.example.com", sub_ns))
    assert dns.lookup("kubeflow.sub.example.com") == ["127.0.0.1"]
    assert dns.resolve_at("sub.example.com", "NS", root_id).is_referral


def test_validation_cname_is_answered(route53: Any) -> None:
    root_id, _ = _zone(route53, "example.com")
    name, value = "_x1.example.com.", "_x2.acm-validations.aws."
    record = {"Name": name, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": value}]}
    _upsert(route53, root_id, record)
    assert DnsServer(Route53BackendSource(ACCOUNT)).lookup(name, "CNAME") == [value]


def test_moto_name_servers_resolve_to_the_server(route53: Any) -> None:
    _, name_servers = _zone(route53, "example.com")
    dns = DnsServer(Route53BackendSource(ACCOUNT))
    assert all(dns.lookup(ns) == ["127.0.0.1"] for ns in name_servers)
