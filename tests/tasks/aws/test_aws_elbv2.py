"""ELBv2 tasks against moto: observe and wait for the ALB, cleanup fallback for leftovers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from core import naming
from core.alb import alb_fields, desired_alb_fields
from core.errors import WaitTimeout
from core.manifests import DEFAULT_SSL_POLICY, IngressParams, configure_ingress
from core.plan import Item, plan
from core.resources import LoadBalancerState
from core.state import Kind
from sandbox.albcontroller import deploy
from sandbox.albcontroller.access import UNRESTRICTED
from sandbox.albcontroller.model import build_model
from tasks.aws import clients, elbv2
from tasks.aws.elbv2_protection import lift_protection, wait_for_protection_lifted

T = TypeVar("T")


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


def _protect(boto, arn: str, value: str = "true") -> None:
    boto("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": value}]
    )


def _protection(boto, arn: str) -> str:
    found = boto("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return next(item["Value"] for item in found if item["Key"] == "deletion_protection.enabled")


def test_cleanup_fallback_deletes_only_this_stacks_leftovers(ctx, spec, world, boto, certificate):
    ours = _make_alb(boto, world, spec, certificate, name="k8s-istio-ours", ours=True)
    theirs = _make_alb(boto, world, spec, certificate, name="k8s-istio-theirs", ours=False)
    _protect(boto, ours.arn)  # as kubeflow.alb.deletionProtection leaves it: lifted first
    _protect(boto, theirs.arn)
    found = elbv2.find_controller_resources.fn(ctx, spec)
    assert found.load_balancer_arns == (ours.arn,)
    assert found.target_group_arns == (ours.target_group,)
    assert found.security_group_ids == (ours.security_group,)

    assert elbv2.delete_controller_resources.fn(ctx, spec)
    elb, ec2 = boto("elbv2"), boto("ec2")
    left = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    assert left == [theirs.arn]
    assert _protection(boto, theirs.arn) == "true"  # not ours: untouched
    groups = [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    assert groups == [theirs.target_group]
    with pytest.raises(ec2.exceptions.ClientError, match="NotFound"):
        ec2.describe_security_groups(GroupIds=[ours.security_group])
    node = ec2.describe_security_groups(GroupIds=[ours.node_group])["SecurityGroups"][0]
    assert node["IpPermissions"] == []
    assert elbv2.find_controller_resources.fn(ctx, spec).empty
    assert not elbv2.delete_controller_resources.fn(ctx, spec)


def test_the_wait_for_lifted_protection_names_what_it_sees(
    ctx, spec, world, boto, certificate, monkeypatch
):
    alb = _make_alb(boto, world, spec, certificate, name="k8s-istio-lift", ours=True)
    _protect(boto, alb.arn)
    monkeypatch.setenv("KFALB_ALB_TIMEOUT_SECONDS", "0.05")
    with pytest.raises(WaitTimeout, match=r"deletion_protection\.enabled=true"):
        wait_for_protection_lifted(ctx, alb.dns_name)
    _protect(boto, alb.arn, "false")  # what the controller does once the Ingress says so
    assert wait_for_protection_lifted(ctx, alb.dns_name.upper()) == alb.arn
    assert wait_for_protection_lifted(ctx, "gone.elb.amazonaws.com") is None
    # The fallback's lift: one write when protected, none when it is off already.
    _protect(boto, alb.arn)
    assert lift_protection(boto("elbv2"), alb.arn)
    assert _protection(boto, alb.arn) == "false"
    assert not lift_protection(boto("elbv2"), alb.arn)


# -- the whole ALB, as the controller builds it from our Ingress ---------------------------------

INGRESS_YAML = Path(__file__).parents[3] / "deployments" / "ingress" / "ingress.yaml"
GATEWAY = {
    "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "uid": "uid-1"},
    "spec": {"ports": [{"name": "http2", "port": 80, "targetPort": 8080}]},
}


@dataclass
class ControllerAlb:
    ingress: dict[str, Any]
    dns_name: str
    certificates: tuple[str, str]
    subnets: list[str]


@pytest.fixture
def controller_alb(spec, world, boto, issued_certificate, sandbox) -> ControllerAlb:
    """Our rendered Ingress turned into an ALB by the controller stand-in's model and deploy."""
    certificates = (
        issued_certificate(world.root_zone_id, "kubeflow.example.com"),
        issued_certificate(world.root_zone_id, "other.example.com"),
    )
    ingress = configure_ingress(
        yaml.safe_load(INGRESS_YAML.read_text()),
        IngressParams(
            stack=spec.name,
            certificate_arns=certificates,
            scheme="internet-facing",
            tags=naming.ownership_tags(spec.name, dict(spec.stack.tags)),
        ),
    )
    model = build_model(ingress, {"istio-ingressgateway": GATEWAY}, cluster=spec.cluster.name)
    aws = deploy.Aws({"elbv2": boto("elbv2"), "ec2": boto("ec2")}, UNRESTRICTED)
    subnets = sorted(world.public_subnets)
    dns_name, _ = deploy.deploy(
        aws, model, cluster=spec.cluster.name, vpc_id=world.vpc_id, subnets=subnets
    )
    (balancer,) = boto("elbv2").describe_load_balancers(Names=[model.lb_name])["LoadBalancers"]
    sandbox.set_load_balancer_state(balancer["LoadBalancerArn"], "active")
    return ControllerAlb(ingress, dns_name, certificates, subnets)


def _reads_during(action: Callable[[], T]) -> tuple[T, list[str]]:
    before = clients.api_calls()
    result = action()
    calls = clients.api_calls().since(before)
    assert calls.mutating == 0
    return result, sorted(c.operation for c in calls.calls for _ in range(c.count))


def _drift(spec, alb: ControllerAlb, state: LoadBalancerState) -> dict[str, tuple[str, str]]:
    wanted = desired_alb_fields(
        alb.ingress, cluster=spec.cluster.name, subnets=alb.subnets, target_port=8080
    )
    (change,) = plan(
        [Item(Kind.LOAD_BALANCER, "alb", wanted)], {(Kind.LOAD_BALANCER, "alb"): alb_fields(state)}
    ).changes
    return {d.field: (d.expected, d.found) for d in change.differences}


def test_observe_reads_the_whole_alb_in_seven_calls(ctx, spec, controller_alb):
    alb = controller_alb
    state, reads = _reads_during(
        lambda: elbv2.observe_load_balancer.fn(ctx, dns_name=alb.dns_name, stack=spec.name)
    )
    assert reads == [
        "DescribeListenerCertificates",
        "DescribeListeners",
        "DescribeLoadBalancerAttributes",
        "DescribeLoadBalancers",
        "DescribeRules",  # the HTTPS listener's; the redirecting one has none to read
        "DescribeTags",  # the load balancer and its target group at once
        "DescribeTargetGroups",
    ]
    assert state is not None
    assert state.owned
    http, https = state.listeners
    assert (http.port, http.protocol, http.ssl_policy, http.rules) == (80, "HTTP", None, None)
    (redirect,) = http.default_actions
    assert (redirect.type, redirect.redirect_protocol, redirect.redirect_port) == (
        "redirect",
        "HTTPS",
        "443",
    )
    assert redirect.status_code == "HTTP_301"
    assert https.certificate_arns == alb.certificates  # the default, then the SNI one
    assert https.ssl_policy == DEFAULT_SSL_POLICY
    (rule,) = https.rules or ()
    (group,) = state.target_groups
    assert rule.conditions == {"path-pattern": ("/*",)}
    assert rule.actions[0].target_group_arns == (group.arn,)
    assert (group.target_type, group.protocol, group.port) == ("ip", "HTTP", 8080)
    assert (group.health_check_port, group.health_check_path, group.success_codes) == (
        "15021",
        "/healthz/ready",
        "200",
    )
    assert (
        group.tags["ingress.k8s.aws/resource"]
        == "istio-system/istio-ingress-istio-ingressgateway:80"
    )
    assert state.attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert state.attributes["idle_timeout.timeout_seconds"] == "3600"  # kubeflow.alb's default
    assert state.attributes["routing.http2.enabled"] == "true"  # AWS lists its defaults too
    assert state.tags["team"] == "ml"
    assert state.subnet_ids == tuple(alb.subnets)
    assert _drift(spec, alb, state) == {}


def test_each_tampering_shows_as_exactly_its_field(ctx, spec, boto, controller_alb):
    alb, elb = controller_alb, boto("elbv2")
    state = elbv2.observe_load_balancer.fn(ctx, dns_name=alb.dns_name)
    assert state is not None
    http, https = state.listeners
    (group,) = state.target_groups
    elb.delete_listener(ListenerArn=http.arn)
    elb.modify_listener(ListenerArn=https.arn, SslPolicy="ELBSecurityPolicy-2016-08")
    elb.modify_target_group(TargetGroupArn=group.arn, HealthCheckPath="/")
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=state.arn,
        Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}],
    )
    elb.remove_tags(ResourceArns=[state.arn], TagKeys=["team"])

    tampered = elbv2.observe_load_balancer.fn(ctx, arn=state.arn)
    assert tampered is not None
    assert _drift(spec, alb, tampered) == {
        "listeners": ("HTTP:80,HTTPS:443", "HTTPS:443"),
        "listener HTTP:80 action": ("redirect HTTPS:443 HTTP_301", ""),
        "listener HTTPS:443 ssl-policy": (DEFAULT_SSL_POLICY, "ELBSecurityPolicy-2016-08"),
        "target-group health-check path": ("/healthz/ready", "/"),
        "attribute routing.http.drop_invalid_header_fields.enabled": ("true", "false"),
        "tag team": ("ml", ""),
    }


def test_a_target_group_gone_between_reads_is_left_out(ctx, spec, boto, controller_alb, faults):
    alb = controller_alb
    faults.fail("elbv2", "DescribeTargetGroups", "TargetGroupNotFound")
    state = elbv2.observe_load_balancer.fn(ctx, dns_name=alb.dns_name)
    assert state is not None
    assert state.target_groups == ()
    assert "target-group health-check path" not in alb_fields(state)


def test_wait_for_alb_fields_names_what_is_still_missing(
    ctx, spec, boto, world, controller_alb, monkeypatch
):
    alb, elb = controller_alb, boto("elbv2")
    state = elbv2.observe_load_balancer.fn(ctx, dns_name=alb.dns_name)
    assert state is not None
    wanted = desired_alb_fields(alb.ingress, cluster=spec.cluster.name, target_port=8080)
    assert elbv2.wait_for_alb_fields.fn(ctx, state.arn, wanted).arn == state.arn
    elb.delete_listener(ListenerArn=state.listeners[0].arn)

    monkeypatch.setenv("KFALB_ALB_TIMEOUT_SECONDS", "0.05")
    with pytest.raises(WaitTimeout, match="to be as the Ingress declares it") as timeout:
        elbv2.wait_for_alb_fields.fn(ctx, state.arn, wanted)
    assert "listener HTTP:80 action: expected 'redirect HTTPS:443 HTTP_301', found '(none)'" in str(
        timeout.value
    )
    # What the controller does on reconcile: converge the model again.
    model = build_model(alb.ingress, {"istio-ingressgateway": GATEWAY}, cluster=spec.cluster.name)
    aws = deploy.Aws({"elbv2": elb, "ec2": boto("ec2")}, UNRESTRICTED)
    deploy.deploy(aws, model, cluster=spec.cluster.name, vpc_id=world.vpc_id, subnets=alb.subnets)
    restored = elbv2.wait_for_alb_fields.fn(ctx, state.arn, wanted)
    assert [listener.port for listener in restored.listeners] == [80, 443]


def test_waiting_for_an_alb_seen_active_costs_no_call(ctx, controller_alb):
    state = elbv2.observe_load_balancer.fn(ctx, dns_name=controller_alb.dns_name)
    assert state is not None
    assert state.state == "active"
    same, reads = _reads_during(lambda: elbv2.wait_for_load_balancer.fn(ctx, state.arn, seen=state))
    assert (same, reads) == (state, [])


def test_tags_of_leaves_out_a_load_balancer_deleted_since_it_was_listed(world, boto) -> None:
    """DescribeTags fails its whole batch on one ARN that is gone (the controller deletes its
    ALBs when it likes): the others' tags are still read, the gone one left out."""
    from botocore.exceptions import ClientError

    from tasks.aws.elbv2_read import tags_of

    elb = boto("elbv2")
    arns = [
        elb.create_load_balancer(Name=name, Subnets=world.public_subnets,
                                 Tags=[{"Key": "n", "Value": name}])["LoadBalancers"][0][
            "LoadBalancerArn"]
        for name in ("kept-a", "gone", "kept-b")
    ]  # fmt: skip
    elb.delete_load_balancer(LoadBalancerArn=arns[1])
    with pytest.raises(ClientError, match="LoadBalancerNotFound"):
        elb.describe_tags(ResourceArns=arns)
    assert tags_of(elb, arns) == {arns[0]: {"n": "kept-a"}, arns[2]: {"n": "kept-b"}}
