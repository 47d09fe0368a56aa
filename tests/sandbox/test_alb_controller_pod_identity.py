"""The ALB controller stand-in's AWS rights through EKS Pod Identity, as on EKS: an association of
its service account, a role trusting pods.eks.amazonaws.com, the agent add-on; else the SDK's
errors. An IRSA annotation still wins (the SDK tries web identity first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.identity import pod_identity_trust
from sandbox.world import World
from tests.sandbox.alb_world import (
    NAME,
    POLICY,
    clean_up,
    controller_deployment,
    get_ingress,
    hostname,
    issued_certificate,
    make_ingress,
    new_namespace,
    stack,
    stand_in,
    start_world,
    warnings,
)

PREFIX = (
    "FailedBuildModel: Failed build model due to couldn't auto-discover subnets: failed to "
    "list subnets by role tag: operation error EC2: DescribeSubnets, get identity: get "
    "credentials: failed to refresh cached credentials, "
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("pod-identity")), "311111110047")
    yield started
    started.stop()


@pytest.fixture
def ns(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_namespace(world, request.node.name)
    yield name
    clean_up(world, name)
    eks = _eks(world)
    for item in eks.list_pod_identity_associations(clusterName="kubeflow")["associations"]:
        eks.delete_pod_identity_association(
            clusterName="kubeflow", associationId=item["associationId"]
        )


@pytest.fixture(scope="module")
def iam(world: World) -> Any:
    assert world.aws is not None
    return world.aws.client("iam")


@pytest.fixture(scope="module")
def policy(iam: Any) -> str:
    created = iam.create_policy(PolicyName="lbc-pi", PolicyDocument=POLICY.read_text())
    return str(created["Policy"]["Arn"])


def _eks(world: World) -> Any:
    assert world.aws is not None
    return world.aws.client("eks")


def _role(iam: Any, name: str, trust: dict[str, Any], policy: str | None) -> str:
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    if policy:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return arn


def _associate(world: World, role_arn: str) -> None:
    _eks(world).create_pod_identity_association(
        clusterName="kubeflow", namespace="kube-system", serviceAccount=NAME, roleArn=role_arn
    )


def test_an_associated_role_trusting_pod_identity_serves(
    world: World, ns: str, iam: Any, policy: str
) -> None:
    _associate(world, _role(iam, "lbc-pi-valid", pod_identity_trust(), policy))
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.p.example.com"))
    controller_deployment(world)  # no role annotation: Pod Identity only
    stand_in(world, "none").reconcile_once()
    assert warnings(world, ns) == []
    (balancer,) = stack(world, ns).load_balancers
    assert hostname(world, ns) == balancer["DNSName"]


@pytest.mark.parametrize("case", ["irsa-trust", "no-tag-session", "no-policy", "no-agent"])
def test_an_association_that_cannot_serve_is_the_sdk_error(
    world: World, ns: str, iam: Any, policy: str, case: str
) -> None:
    trust = pod_identity_trust()
    if case == "no-tag-session":
        trust["Statement"][0]["Action"] = ["sts:AssumeRole"]
    if case == "irsa-trust":
        trust["Statement"][0]["Principal"] = {"Service": "ec2.amazonaws.com"}
    _associate(world, _role(iam, f"lbc-pi-{case}", trust, None if case == "no-policy" else policy))
    make_ingress(world, ns, certificate_arn=issued_certificate(world, f"*.{case}.example.com"))
    controller_deployment(world)
    if case == "no-agent":
        _eks(world).delete_addon(clusterName="kubeflow", addonName="eks-pod-identity-agent")
    try:
        stand_in(world, "none").reconcile_once()
    finally:
        if case == "no-agent":
            _eks(world).create_addon(clusterName="kubeflow", addonName="eks-pod-identity-agent")
    (warning,) = warnings(world, ns)
    if case == "no-policy":
        assert "api error UnauthorizedOperation: You are not authorized" in warning
        assert "assumed-role/lbc-pi-no-policy/eks-kubeflow-" in warning
    elif case == "no-agent":
        assert warning == PREFIX + (
            'failed to load credentials, Get "http://169.254.170.23/v1/credentials": dial tcp '
            "169.254.170.23:80: connect: connection refused"
        )
    else:
        assert warning == PREFIX + (
            "failed to load credentials, Unauthorized Exception! EKS does not have permissions "
            "to assume the associated role., fault: client"
        )
    assert stack(world, ns).load_balancers == []
    assert get_ingress(world, ns) is not None


def test_an_irsa_annotation_is_used_before_the_association(
    world: World, ns: str, iam: Any, policy: str
) -> None:
    role_arn = _role(iam, "lbc-pi-annotated", pod_identity_trust(), policy)
    _associate(world, role_arn)
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.q.example.com"))
    controller_deployment(world, role_arn=role_arn)  # left over from IRSA
    stand_in(world, "none").reconcile_once()
    (warning,) = warnings(world, ns)
    assert "AssumeRoleWithWebIdentity" in warning
    assert stack(world, ns).load_balancers == []
