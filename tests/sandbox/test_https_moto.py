"""Tests of the HTTPS endpoint and DNS server wired to moto's Route53, ELBv2 and ACM backends.

The resources are made through the AWS sandbox (moto in server mode, an account of this module's
own): moto's in-process mock would reset every account in the process, other tests' worlds included.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from sandbox.ca import SandboxCA
from sandbox.dns import DnsServer, Route53BackendSource
from sandbox.https_endpoint import HttpsEndpoint
from sandbox.httpsendpoint.moto_albs import MotoAlbExists, MotoAlbRoutes

ACCOUNT = "311111110042"


@dataclass
class Account:
    """What every test shares: one sandbox account with a VPC, certificates and the zone."""

    aws: AwsSandbox
    subnets: list[str]
    target_group: str
    sub_cert: str
    root_cert: str
    zone_id: str


@dataclass
class World:
    elbv2: Any
    alb_arn: str
    alb_dns: str
    listener_arn: str
    root_cert: str
    dns: DnsServer


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    # Every validation record counts as visible: certificates are ISSUED at once.
    with AwsSandbox(
        account_id=ACCOUNT,
        region="us-east-1",
        acm_validation_delay=0.0,
        dns_check=lambda name, rtype, value: True,
    ) as aws:
        ec2 = aws.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}"
            )["Subnet"]["SubnetId"]
            for i, az in ((1, "a"), (2, "b"))
        ]
        acm = aws.client("acm")
        sub_cert = acm.request_certificate(
            DomainName="*.sub.example.com",
            SubjectAlternativeNames=["sub.example.com"],
            ValidationMethod="DNS",
        )["CertificateArn"]
        root_cert = acm.request_certificate(DomainName="*.example.com", ValidationMethod="DNS")[
            "CertificateArn"
        ]
        for arn in (sub_cert, root_cert):
            assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"
        group = aws.client("elbv2").create_target_group(
            Name="tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        zone = aws.client("route53").create_hosted_zone(
            Name="sub.example.com", CallerReference="sub"
        )
        yield Account(aws, subnets, group, sub_cert, root_cert, zone["HostedZone"]["Id"])


@pytest.fixture
def world(account: Account) -> Iterator[World]:
    elbv2 = account.aws.client("elbv2")
    alb = elbv2.create_load_balancer(Name="k8s-kubeflow", Subnets=account.subnets)
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    alb_dns = alb["LoadBalancers"][0]["DNSName"]
    listener = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": account.sub_cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": account.target_group}],
    )["Listeners"][0]["ListenerArn"]
    alias = {
        "HostedZoneId": alb["LoadBalancers"][0]["CanonicalHostedZoneId"],
        "DNSName": f"dualstack.{alb_dns}",
        "EvaluateTargetHealth": True,
    }
    record = {"Name": "*.sub.example.com", "Type": "A", "AliasTarget": alias}
    batch: Any = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    account.aws.client("route53").change_resource_record_sets(
        HostedZoneId=account.zone_id, ChangeBatch=batch
    )
    dns = DnsServer(Route53BackendSource(ACCOUNT), alb_exists=MotoAlbExists(ACCOUNT))
    yield World(elbv2, alb_arn, alb_dns, listener, account.root_cert, dns)
    elbv2.delete_load_balancer(LoadBalancerArn=alb_arn)  # idempotent, as in AWS


def _handshake_names(endpoint: HttpsEndpoint, ca: SandboxCA, host: str) -> None:
    context = ssl.create_default_context(cadata=ca.cert_pem)
    with (
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host),
    ):
        pass


def test_listener_certificate_is_presented_for_the_dns_name(world: World) -> None:
    assert world.dns.lookup("kubeflow.sub.example.com") == ["127.0.0.1"]
    routes = MotoAlbRoutes(world.dns.alb_for, ACCOUNT)
    assert routes.route("kubeflow.sub.example.com") == ["*.sub.example.com", "sub.example.com"]
    ca = SandboxCA()
    with HttpsEndpoint(ca, routes) as endpoint:
        _handshake_names(endpoint, ca, "kubeflow.sub.example.com")
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            _handshake_names(endpoint, ca, "kubeflow.other.example.com")


def test_sni_picks_the_matching_listener_certificate(world: World) -> None:
    world.elbv2.add_listener_certificates(
        ListenerArn=world.listener_arn, Certificates=[{"CertificateArn": world.root_cert}]
    )
    routes = MotoAlbRoutes(lambda host: world.alb_dns, ACCOUNT)  # every name reaches this ALB
    assert routes.route("kubeflow.example.com") == ["*.example.com"]
    assert routes.route("central.sub.example.com") == ["*.sub.example.com", "sub.example.com"]
    assert routes.route("nothing.org") == ["*.sub.example.com", "sub.example.com"]  # the default


def test_no_https_listener_or_no_alb_means_no_route(world: World) -> None:
    routes = MotoAlbRoutes(world.dns.alb_for, ACCOUNT)
    world.elbv2.delete_listener(ListenerArn=world.listener_arn)
    assert routes.route("kubeflow.sub.example.com") is None
    world.elbv2.delete_load_balancer(LoadBalancerArn=world.alb_arn)
    assert routes.route("kubeflow.sub.example.com") is None
    assert world.dns.lookup("kubeflow.sub.example.com") == []  # the alias now leads nowhere
    assert world.dns.lookup(world.alb_dns) == []
