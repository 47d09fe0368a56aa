"""ELBv2 tasks against moto: observe and wait for the ALB, cleanup fallback for leftovers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.errors import WaitTimeout
from tasks.aws import elbv2


@dataclass
class Alb:
    arn: str
    dns_name: str
    target_group: str
    security_group: str
    node_group: str
    certificate: str


def _controller_tags(spec, extra: dict[str, str]) -> list[dict[str, str]]:
    tags = {
        "elbv2.k8s.aws/cluster": spec.cluster.name,
        "ingress.k8s.aws/stack": "istio-system/istio-ingress",
        "ingress.k8s.aws/resource": "LoadBalancer",
        **extra,
    }
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _make_alb(boto, world, spec, certificate: str, *, name: str, ours: bool) -> Alb:
    """What the controller makes for an Ingress: SG, ALB, target group, HTTPS listener."""
    extra = spec.tags if ours else {"kubeflow-alb/stack": "other"}
    tags = _controller_tags(spec, extra)
    ec2, elb = boto("ec2"), boto("elbv2")
    group = ec2.create_security_group(
        GroupName=f"{name}-sg",
        Description="alb",
        VpcId=world.vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]
    node = ec2.create_security_group(GroupName=f"{name}-nodes", Description="n", VpcId=world.vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=node["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": group}],
            }
        ],
    )
    lb = elb.create_load_balancer(
        Name=name, Subnets=world.public_subnets, SecurityGroups=[group], Tags=tags
    )["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name=f"{name}-tg",
        Protocol="HTTP",
        Port=8080,
        VpcId=world.vpc_id,
        TargetType="ip",
        Tags=tags,
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )
    return Alb(lb["LoadBalancerArn"], lb["DNSName"], tg, group, node["GroupId"], certificate)


@pytest.fixture
def certificate(world, issued_certificate) -> str:
    return issued_certificate(world.root_zone_id, "kubeflow.example.com")


def test_observe_by_dns_name_and_wait_until_active(
    ctx, spec, world, boto, certificate, sandbox, monkeypatch
):
    alb = _make_alb(boto, world, spec, certificate, name="k8s-istio-ours", ours=True)
    seen = elbv2.observe_load_balancer.fn(ctx, dns_name=alb.dns_name.upper(), stack=spec.name)
    assert seen is not None
    assert seen.arn == alb.arn
    assert seen.owned
    assert [(item.port, item.certificate_arns) for item in seen.listeners] == [
        (443, (alb.certificate,))
    ]
    assert seen.canonical_hosted_zone_id == "Z1H1FL5HABSF5"
    assert seen.state == "provisioning"

    monkeypatch.setenv("KFALB_ALB_TIMEOUT_SECONDS", "0.05")
    with pytest.raises(WaitTimeout, match="is provisioning, not active"):
        elbv2.wait_for_load_balancer.fn(ctx, alb.arn)
    monkeypatch.setenv("KFALB_ALB_TIMEOUT_SECONDS", "2")
    sandbox.set_load_balancer_state(alb.arn, "active")
    active = elbv2.wait_for_load_balancer.fn(ctx, alb.arn, stack=spec.name)
    assert active.state == "active"
    assert elbv2.observe_load_balancer.fn(ctx, dns_name="nope.elb.amazonaws.com") is None
    assert elbv2.observe_load_balancer.fn(ctx, arn=alb.arn + "0") is None


def test_cleanup_fallback_deletes_only_this_stacks_leftovers(ctx, spec, world, boto, certificate):
    ours = _make_alb(boto, world, spec, certificate, name="k8s-istio-ours", ours=True)
    theirs = _make_alb(boto, world, spec, certificate, name="k8s-istio-theirs", ours=False)
    found = elbv2.find_controller_resources.fn(ctx, spec)
    assert found.load_balancer_arns == (ours.arn,)
    assert found.target_group_arns == (ours.target_group,)
    assert found.security_group_ids == (ours.security_group,)

    assert elbv2.delete_controller_resources.fn(ctx, spec)
    elb, ec2 = boto("elbv2"), boto("ec2")
    left = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    assert left == [theirs.arn]
    groups = [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    assert groups == [theirs.target_group]
    with pytest.raises(ec2.exceptions.ClientError, match="NotFound"):
        ec2.describe_security_groups(GroupIds=[ours.security_group])
    node = ec2.describe_security_groups(GroupIds=[ours.node_group])["SecurityGroups"][0]
    assert node["IpPermissions"] == []
    assert elbv2.find_controller_resources.fn(ctx, spec).empty
    assert not elbv2.delete_controller_resources.fn(ctx, spec)
