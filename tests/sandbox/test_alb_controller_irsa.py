"""The ALB controller stand-in's AWS rights (IRSA) and subnet discovery, as on EKS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.world import World
from tests.sandbox.alb_world import (
    NAME,
    POLICY,
    clean_up,
    controller_deployment,
    eventually,
    get_ingress,
    hostname,
    issued_certificate,
    make_ingress,
    new_namespace,
    stack,
    stand_in,
    start_world,
    store,
    warnings,
)

SUBJECT = f"system:serviceaccount:kube-system:{NAME}"
CRDS = POLICY.parent / "crds.yaml"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = start_world(Path(tmp_path_factory.mktemp("irsa")), "311111110032")
    yield started
    started.stop()


@pytest.fixture
def ns(world: World, request: pytest.FixtureRequest) -> Iterator[str]:
    name = new_namespace(world, request.node.name)
    yield name
    clean_up(world, name)


@pytest.fixture(scope="module")
def iam(world: World) -> Any:
    assert world.aws is not None
    return world.aws.client("iam")


@pytest.fixture(scope="module")
def issuer(world: World) -> str:
    assert world.seeded is not None
    return world.seeded.oidc_issuer


@pytest.fixture(scope="module")
def provider(iam: Any, issuer: str) -> str:
    created = iam.create_open_id_connect_provider(
        Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40]
    )
    return str(created["OpenIDConnectProviderArn"])


@pytest.fixture(scope="module")
def policy(iam: Any) -> str:
    created = iam.create_policy(PolicyName="lbc", PolicyDocument=POLICY.read_text())
    return str(created["Policy"]["Arn"])


def make_role(iam: Any, name: str, *, provider: str, issuer: str, subject: str = SUBJECT) -> str:
    host = issuer.removeprefix("https://")
    condition = {"StringEquals": {f"{host}:sub": subject, f"{host}:aud": "sts.amazonaws.com"}}
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def the_warning(world: World, ns: str) -> str:
    (warning,) = warnings(world, ns)
    return warning


def test_without_a_role_the_controller_has_no_credentials(world: World, ns: str) -> None:
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.a.example.com"))
    controller_deployment(world)
    stand_in(world, "none").reconcile_once()
    assert the_warning(world, ns) == (
        "FailedBuildModel: Failed build model due to couldn't auto-discover subnets: failed to "
        "list subnets by role tag: operation error EC2: DescribeSubnets, get identity: get "
        "credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation "
        "error ec2imds: GetMetadata, canceled, context deadline exceeded"
    )
    ingress = get_ingress(world, ns)
    assert ingress is not None
    assert ingress["metadata"]["finalizers"] == ["ingress.k8s.aws/resources"]  # added first
    assert stack(world, ns).load_balancers == []
    assert hostname(world, ns) is None


@pytest.mark.parametrize("case", ["missing", "untrusted", "no-policy", "no-provider"])
def test_a_role_that_cannot_serve_is_a_warning_and_no_alb(
    world: World, ns: str, iam: Any, provider: str, issuer: str, case: str
) -> None:
    account = world.options.account_id
    role_arn = f"arn:aws:iam::{account}:role/absent"
    if case in ("untrusted", "no-policy", "no-provider"):
        subject = "system:serviceaccount:kube-system:other" if case == "untrusted" else SUBJECT
        role_arn = make_role(iam, f"lbc-{case}", provider=provider, issuer=issuer, subject=subject)
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.b.example.com"))
    controller_deployment(world, role_arn=role_arn)
    if case == "no-provider":
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider)
    try:
        stand_in(world, "none").reconcile_once()
    finally:
        if case == "no-provider":
            iam.create_open_id_connect_provider(
                Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40]
            )
    warning = the_warning(world, ns)
    assert warning.startswith(
        "FailedBuildModel: Failed build model due to couldn't auto-discover subnets: failed to "
        "list subnets by role tag: operation error EC2: DescribeSubnets, "
    )
    if case == "no-policy":
        assert (
            "api error UnauthorizedOperation: You are not authorized to perform this operation. "
            f"User: arn:aws:sts::{account}:assumed-role/lbc-no-policy/"
        ) in warning
        assert warning.endswith(
            "is not authorized to perform: ec2:DescribeSubnets because no identity-based policy "
            "allows the ec2:DescribeSubnets action"
        )
    elif case == "no-provider":
        assert warning.endswith(
            f"InvalidIdentityToken: No OpenIDConnect provider found in your account for {issuer}"
        )
    else:
        assert (
            "operation error STS: AssumeRoleWithWebIdentity, https response error StatusCode: 403"
            in warning
        )
        assert warning.endswith(
            "api error AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
        )
    assert stack(world, ns).load_balancers == []
    assert hostname(world, ns) is None


def test_the_bundled_policy_is_enough_and_deletion_needs_it_too(
    world: World, ns: str, iam: Any, provider: str, issuer: str, policy: str
) -> None:
    for crd in yaml.safe_load_all(CRDS.read_text()):
        if crd:
            store(world).apply(crd)
    role_arn = make_role(iam, "lbc-valid", provider=provider, issuer=issuer)
    iam.attach_role_policy(RoleName="lbc-valid", PolicyArn=policy)
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.c.example.com"))
    controller_deployment(world, role_arn=role_arn)
    controller = stand_in(world, "none")
    controller.reconcile_once()
    (balancer,) = stack(world, ns).load_balancers
    assert hostname(world, ns) == balancer["DNSName"]
    (target_group,) = stack(world, ns).target_groups
    (binding,) = store(world).list("elbv2.k8s.aws/v1beta1", "TargetGroupBinding", ns)
    assert binding["spec"]["targetGroupARN"] == target_group["TargetGroupArn"]
    assert binding["spec"]["serviceRef"] == {"name": "web", "port": 80}
    assert binding["metadata"]["labels"]["ingress.k8s.aws/stack-name"] == "app"

    # Without its rights the controller cannot remove the ALB: the Ingress stays, terminating.
    # As upstream (v3.5.0 records a group's events on its active members only), a lone Ingress
    # being deleted gets no event: the failure is only in the controller's log.
    events_before = warnings(world, ns)
    iam.detach_role_policy(RoleName="lbc-valid", PolicyArn=policy)
    store(world).delete("networking.k8s.io/v1", "Ingress", "app", ns)
    controller.reconcile_once()
    assert warnings(world, ns) == events_before
    assert get_ingress(world, ns) is not None
    assert stack(world, ns).load_balancers  # nothing was removed
    iam.attach_role_policy(RoleName="lbc-valid", PolicyArn=policy)
    controller.reconcile_once(force=True)
    assert get_ingress(world, ns) is None
    found = stack(world, ns)
    assert (found.load_balancers, found.target_groups, found.security_groups) == ([], [], [])
    assert store(world).list("elbv2.k8s.aws/v1beta1", "TargetGroupBinding", ns) == []


def test_subnets_must_be_discoverable_and_it_retries_until_they_are(world: World, ns: str) -> None:
    """With reachability discovery off, the role tags decide; the controller keeps retrying."""
    assert world.aws is not None
    assert world.seeded is not None
    ec2 = world.aws.client("ec2")
    public = list(world.seeded.public_subnet_ids)
    make_ingress(world, ns, certificate_arn=issued_certificate(world, "*.d.example.com"))
    controller_deployment(world, args=("--feature-gates=SubnetDiscoveryByReachability=false",))
    controller = stand_in(world, "preinstalled").start()
    try:
        eventually(lambda: warnings(world, ns))
        assert the_warning(world, ns) == (
            "FailedBuildModel: Failed build model due to couldn't auto-discover subnets: unable "
            "to resolve at least one subnet. Evaluated 0 subnets: 0 are tagged for other "
            "clusters, and 0 have insufficient available IP addresses"
        )
        role = [{"Key": "kubernetes.io/role/elb", "Value": "1"}]
        ec2.create_tags(Resources=public, Tags=role)
        eventually(lambda: hostname(world, ns))
    finally:
        controller.stop()
        ec2.delete_tags(Resources=public, Tags=[{"Key": "kubernetes.io/role/elb"}])
    (balancer,) = stack(world, ns).load_balancers
    assert {zone["SubnetId"] for zone in balancer["AvailabilityZones"]} == set(public)
