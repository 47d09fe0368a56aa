"""Our controller install and Ingress against the whole sandbox world: an ALB comes and goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.spec import StackSpec, parse_spec
from sandbox.ca import SandboxCA
from sandbox.world import World, WorldOptions
from tasks.aws import ec2, iam, iam_policy
from tasks.aws.clients import AwsContext, client, reset_sessions
from tasks.aws.eks import read_cluster
from tasks.endoflife import delete_front_door
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import delete_controller, ensure_controller
from tasks.k8s.ingress import ensure_ingress, wait_for_ingress_address
from tests.tasks.k8s.ingress_fixture import desired_ingress

SPEC = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {
        "rootDomain": {"name": "example.com"},
        "subDomain": {"name": "platform.example.com"},
    },
}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_settings: None) -> Iterator[World]:
    options = WorldOptions(
        controller="none", deployment_ready_delay=0.05, alb_delay=0.2, poll_interval=0.02
    )
    with World(tmp_path / "world", options) as started:
        for name, value in started.env.items():
            if not name.startswith("KFALB_POLL"):
                monkeypatch.setenv(name, value)
        reset_sessions()
        yield started
    reset_sessions()


def issued_certificate(ctx: AwsContext) -> str:
    """An imported certificate is ISSUED at once (no DNS validation to wait for)."""
    ca = SandboxCA()
    cert, key = ca.issue(["*.platform.example.com"])
    acm = client(ctx, "acm")
    imported = acm.import_certificate(
        Certificate=cert.encode(), PrivateKey=key.encode(), CertificateChain=ca.cert_pem.encode()
    )
    return imported["CertificateArn"]


def test_installed_controller_serves_the_ingress_then_everything_goes(world: World) -> None:
    spec: StackSpec = parse_spec(SPEC)
    ctx = AwsContext(region="us-west-2")
    cluster = read_cluster(ctx, "kubeflow")
    assert cluster is not None
    assert cluster.endpoint
    assert cluster.certificate_authority
    assert cluster.vpc_id
    ec2.ensure_subnet_tags.fn(ctx, cluster)
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam_policy.ensure_policy.fn(ctx, spec)
    role = iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    target = KubeTarget.eks(
        cluster_name=cluster.name,
        endpoint=cluster.endpoint,
        ca_data=cluster.certificate_authority,
        aws=ctx,
    )
    install = {
        "mode": "auto",
        "stack": spec.name,
        "cluster_name": cluster.name,
        "region": spec.region,
        "vpc_id": cluster.vpc_id,
        "role_arn": role.arn,
    }
    outcome = ensure_controller.fn(target, **install)
    assert (outcome.provider, outcome.installed) == ("aws-load-balancer-controller", True)

    ingress = desired_ingress(
        stack=spec.name,
        certificate_arns=(issued_certificate(ctx),),
        scheme=spec.kubeflow.alb.scheme,
        tags=spec.tags,
        ingress_class=outcome.ingress_class,
    )
    assert ensure_ingress.fn(target, ingress, stack=spec.name).action == "created"
    state = wait_for_ingress_address.fn(target)
    elbv2 = client(ctx, "elbv2")
    balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    assert [balancer["DNSName"] for balancer in balancers] == [state.hostname]

    # A re-run changes nothing in the cluster.
    assert ensure_ingress.fn(target, ingress, stack=spec.name).action == "unchanged"
    again = ensure_controller.fn(target, **install)
    assert again.applied is not None
    assert not again.applied.changed

    assert delete_front_door.fn(ctx, target, spec) is True
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    removed = delete_controller.fn(target, spec.name)
    assert len(removed.deleted) == 17
    assert removed.left == ()
