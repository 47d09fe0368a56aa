"""Tests of the DNS server answering from moto's Route53 backend, changed through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.dns import DnsServer, Rcode, Route53BackendSource

ALB = "k8s-istiosys-kubeflow-0123456789.us-east-1.elb.amazonaws.com"


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("route53", region_name="us-east-1")


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


def test_source_reads_zones_records_and_aliases(route53: Any) -> None:
    root_id, root_ns = _zone(route53, "example.com")
    alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": ALB, "EvaluateTargetHealth": False}
    _upsert(route53, root_id, {"Name": "app.example.com", "Type": "A", "AliasTarget": alias})
    (zone,) = Route53BackendSource().zones()
    assert (zone.zone_id, zone.name, zone.private) == (
        root_id.split("/")[-1],
        "example.com.",
        False,
    )
    assert list(zone.name_servers) == root_ns
    by_type = {(r.name, r.type): r for r in zone.records}
    # moto keeps the SOA it makes as a dict; the source unwraps it into zone-file text.
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
    assert app.alias.dns_name == ALB
    assert not app.values


def test_other_accounts_are_separate(route53: Any) -> None:
    _zone(route53, "example.com")
    assert Route53BackendSource(account_id="210987654321").zones() == []


def test_subdomain_follows_ns_delegation_in_the_root_zone(route53: Any) -> None:
    root_id, _ = _zone(route53, "example.com")
    sub_id, sub_ns = _zone(route53, "sub.example.com")
    alias = {
        "HostedZoneId": "Z35SXDOTRQ7X7K",
        "DNSName": f"dualstack.{ALB}",
        "EvaluateTargetHealth": True,
    }
    _upsert(route53, sub_id, {"Name": "*.sub.example.com", "Type": "A", "AliasTarget": alias})
    dns = DnsServer(Route53BackendSource(), alb_exists=lambda name: name == ALB)
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
    assert DnsServer(Route53BackendSource()).lookup(name, "CNAME") == [value]


def test_moto_name_servers_resolve_to_the_server(route53: Any) -> None:
    _, name_servers = _zone(route53, "example.com")
    dns = DnsServer(Route53BackendSource())
    assert all(dns.lookup(ns) == ["127.0.0.1"] for ns in name_servers)
