"""The ALB controller stand-in's pure parts: names, annotations, subnets, trust and rights."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.albcontroller import subnets
from sandbox.albcontroller.access import Identity, sdk_message, trusts
from sandbox.albcontroller.model import (
    BuildError,
    backend_security_group_name,
    load_balancer_name,
    parse_listen_ports,
    parse_tags,
    path_patterns,
    security_group_name,
)


def test_names_are_stable_short_and_depend_on_what_the_controller_hashes() -> None:
    name = load_balancer_name("kubeflow", "istio-system", "istio-ingress", "internet-facing")
    assert re.fullmatch(r"k8s-istiosys-istioing-[0-9a-f]{10}", name)
    assert len(name) <= 32
    assert name == load_balancer_name(
        "kubeflow", "istio-system", "istio-ingress", "internet-facing"
    )
    assert name != load_balancer_name("kubeflow", "istio-system", "istio-ingress", "internal")
    assert name != load_balancer_name("other", "istio-system", "istio-ingress", "internet-facing")
    assert security_group_name("kubeflow", "istio-system", "istio-ingress").startswith(
        "k8s-istiosys-istioing-"
    )
    assert re.fullmatch(
        r"k8s-traffic-kubeflow-[0-9a-f]{10}", backend_security_group_name("kubeflow")
    )


def test_listen_ports_default_to_the_certificates_and_are_validated() -> None:
    assert parse_listen_ports(None, prefer_tls=True) == {443: "HTTPS"}
    assert parse_listen_ports(None, prefer_tls=False) == {80: "HTTP"}
    assert parse_listen_ports('[{"HTTP": 80}, {"HTTPS": 443}]', prefer_tls=True) == {
        80: "HTTP",
        443: "HTTPS",
    }
    for raw, message in (
        ("[{HTTP: 80}]", "failed to parse listen-ports configuration"),
        ("[]", "empty listen-ports configuration"),
        ('[{"HTTP": 0}]', "listen port must be within [1, 65535]: 0"),
        ('[{"TCP": 80}]', "listen protocol must be within [HTTP, HTTPS]: TCP"),
    ):
        with pytest.raises(BuildError, match=re.escape(message)):
            parse_listen_ports(raw, prefer_tls=False)


def test_tags_and_paths() -> None:
    assert parse_tags("a=1, b = two,,c=x=y") == {"a": "1", "b": "two", "c": "x=y"}
    with pytest.raises(BuildError, match="stringMap"):
        parse_tags("a=1,b")
    assert path_patterns("/", "Prefix") == ("/*",)
    assert path_patterns("/api/", "Prefix") == ("/api", "/api/*")
    assert path_patterns("/x", "Exact") == ("/x",)
    with pytest.raises(BuildError, match="wildcards"):
        path_patterns("/a*", "Prefix")


def _subnet(subnet_id: str, zone: str, *tags: tuple[str, str], free: int = 100) -> dict[str, Any]:
    return {
        "SubnetId": subnet_id,
        "AvailabilityZone": zone,
        "AvailableIpAddressCount": free,
        "Tags": [{"Key": k, "Value": v} for k, v in tags],
    }


def test_subnets_one_per_zone_preferring_the_clusters_own_and_at_least_two() -> None:
    mine = ("kubernetes.io/cluster/kubeflow", "shared")
    chosen = subnets.choose(
        [_subnet("subnet-b", "a"), _subnet("subnet-c", "a", mine), _subnet("subnet-d", "b")],
        "kubeflow",
    )
    assert chosen == ["subnet-c", "subnet-d"]
    other = ("kubernetes.io/cluster/other", "owned")
    with pytest.raises(
        BuildError, match=re.escape("subnets count less than minimal required count: 1 < 2")
    ):
        subnets.choose([_subnet("subnet-a", "a"), _subnet("subnet-b", "b", other)], "kubeflow")
    with pytest.raises(
        BuildError,
        match="Evaluated 2 subnets: 1 are tagged for other clusters, and 1 have insufficient",
    ):
        subnets.choose(
            [_subnet("subnet-a", "a", free=3), _subnet("subnet-b", "b", other)], "kubeflow"
        )


def test_reachability_uses_the_route_table_or_the_main_one() -> None:
    listed = [_subnet("subnet-a", "a"), _subnet("subnet-b", "b")]
    tables = [
        {"Associations": [{"Main": True}], "Routes": [{"GatewayId": "local"}]},
        {"Associations": [{"SubnetId": "subnet-a"}], "Routes": [{"GatewayId": "igw-1"}]},
    ]
    assert [s["SubnetId"] for s in subnets.reachable(listed, tables, "internet-facing")] == [
        "subnet-a"
    ]
    assert [s["SubnetId"] for s in subnets.reachable(listed, tables, "internal")] == ["subnet-b"]
    assert (
        subnets.with_role_tag(
            [_subnet("subnet-a", "a", ("kubernetes.io/role/elb", "1"))], "internal"
        )
        == []
    )


def test_trust_needs_the_provider_the_action_and_matching_conditions() -> None:
    host = "oidc.eks.us-west-2.amazonaws.com/id/ABC"
    provider = f"arn:aws:iam::123456789012:oidc-provider/{host}"
    subject = "system:serviceaccount:kube-system:aws-load-balancer-controller"

    def trust(condition: dict[str, Any], principal: str = provider) -> dict[str, Any]:
        statement = {
            "Effect": "Allow",
            "Principal": {"Federated": principal},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }
        return {"Statement": [statement]}

    exact = {"StringEquals": {f"{host}:sub": subject, f"{host}:aud": "sts.amazonaws.com"}}
    assert trusts(trust(exact), provider_arn=provider, host=host, subject=subject)
    like = {"StringLike": {f"{host}:sub": "system:serviceaccount:kube-system:*"}}
    assert trusts(trust(like), provider_arn=provider, host=host, subject=subject)
    assert not trusts(trust(exact), provider_arn=provider, host=host, subject=subject + "x")
    assert not trusts(
        trust(exact, principal=provider + "x"), provider_arn=provider, host=host, subject=subject
    )
    unknown = {"StringEquals": {f"{host}:email": "x"}}
    assert not trusts(trust(unknown), provider_arn=provider, host=host, subject=subject)


def test_rights_follow_allow_and_deny_patterns() -> None:
    identity = Identity(
        arn="arn:aws:sts::1:assumed-role/r/s",
        allowed=("ec2:Describe*", "elasticloadbalancing:*"),
        denied=("elasticloadbalancing:DeleteLoadBalancer",),
    )
    assert identity.permits("ec2:DescribeSubnets")
    assert identity.permits("elasticloadbalancing:CreateLoadBalancer")
    assert not identity.permits("ec2:CreateSecurityGroup")
    assert not identity.permits("elasticloadbalancing:DeleteLoadBalancer")
    message = sdk_message(
        "EC2", "DescribeSubnets", status=403, code="X", message="m", modeled=False
    )
    assert re.fullmatch(
        r"operation error EC2: DescribeSubnets, https response error StatusCode: 403, "
        r"RequestID: [0-9a-f-]{36}, api error X: m",
        message,
    )
