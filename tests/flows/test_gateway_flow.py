"""The Gateway front door through the flows, against the sandbox: setup from nothing to HTTPS
through a Gateway-built ALB, a re-run that changes nothing, drift of a tampered
LoadBalancerConfiguration found by its field and remediated, cleanup back to the world as it
was; and a v2 controller refused before any AWS call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
#: This file's own AWS account (moto's backends are process-wide).
ACCOUNT = "311111119019"
NS = "istio-system"
LBC = ("gateway.k8s.aws/v1", "LoadBalancerConfiguration")
TGC = ("gateway.k8s.aws/v1", "TargetGroupConfiguration")
GATEWAY = ("gateway.networking.k8s.io/v1", "Gateway")
ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
CLASS = ("gateway.networking.k8s.io/v1", "GatewayClass")
WEAK = "ELBSecurityPolicy-2016-08"
IDLE = "idle_timeout.timeout_seconds"


def _spec(name: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"] |= {"name": name, "frontDoor": "gateway", **stack}
    return StackSpec.model_validate(data)


def _aws(world: Any) -> dict[str, Any]:
    """What a stack touches in AWS."""
    aws = world.aws
    route53, iam, elbv2 = aws.client("route53"), aws.client("iam"), aws.client("elbv2")
    zones = {
        zone["Name"]: sorted(
            (r["Name"], r["Type"])
            for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])[
                "ResourceRecordSets"
            ]
        )
        for zone in route53.list_hosted_zones()["HostedZones"]
    }
    return {
        "zones": zones,
        "certificates": aws.client("acm").list_certificates()["CertificateSummaryList"],
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "policies": sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "oidc": iam.list_open_id_connect_providers()["OpenIDConnectProviderList"],
        "subnets": {
            s["SubnetId"]: sorted((t["Key"], t["Value"]) for t in s.get("Tags", []))
            for s in aws.client("ec2").describe_subnets()["Subnets"]
        },
        "security_groups": sorted(
            g["GroupName"] for g in aws.client("ec2").describe_security_groups()["SecurityGroups"]
        ),
        "load_balancers": elbv2.describe_load_balancers()["LoadBalancers"],
        "target_groups": elbv2.describe_target_groups()["TargetGroups"],
    }


def _kube(world: Any) -> set[tuple[str, str | None, str]]:
    """Every object of the kinds a Gateway stack touches (CRDs included)."""
    kinds = [("apps/v1", "Deployment"), ("v1", "Secret"), ("v1", "ServiceAccount"),
             ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
             ("networking.k8s.io/v1", "IngressClass"), ("networking.k8s.io/v1", "Ingress")]  # fmt: skip
    return {
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for kind in kinds
        for obj in world.kube.store.list(*kind)
    }


def _idle_timeout(world: Any) -> str:
    elbv2 = world.aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    attributes = elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"]
    )
    return next(a["Value"] for a in attributes["Attributes"] if a["Key"] == IDLE)


def _tamper_objects(world: Any, name: str) -> None:
    """Someone sets the idle timeout to 60 on the LoadBalancerConfiguration and deletes the
    HTTP redirect route (the controller carries both to the ALB)."""
    store = world.kube.store
    config = store.get(*LBC, name, NS)
    for item in config["spec"]["loadBalancerAttributes"]:
        if item["key"] == IDLE:
            item["value"] = "60"
    store.update(config)
    assert store.delete(*ROUTE, f"{name}-http-redirect", NS)


def _tamper_listener(world: Any) -> None:
    """Someone weakens the HTTPS listener's TLS policy on the ALB itself."""
    elbv2 = world.aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    (https,) = [listener for listener in listeners if listener["Port"] == 443]
    elbv2.modify_listener(ListenerArn=https["ListenerArn"], SslPolicy=WEAK)


def _versions(world: Any) -> dict[tuple[str, str], str]:
    """resourceVersion of the front door's objects and the controller's Deployment."""
    kinds = [GATEWAY, ROUTE, LBC, TGC, CLASS, ("apps/v1", "Deployment")]
    return {
        (obj["kind"], obj["metadata"]["name"]): obj["metadata"]["resourceVersion"]
        for kind in kinds
        for obj in world.kube.store.list(*kind)
    }


def test_a_gateway_stack_from_nothing_to_https_drift_remediation_and_cleanup(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import DriftDetected
    from core.settings import get_settings
    from core.state import Kind
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.https import probe
    from tasks.stack_block import load_record

    world = sandbox_world(account_id=ACCOUNT)
    aws_before, kube_before = _aws(world), _kube(world)
    spec = _spec("gateway-door")

    setup_load_balancer(spec=spec)

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok, answer
    assert answer.status == 302
    record = load_record(spec.name)
    assert record is not None
    assert record.phase == "ready"
    kinds = {item.kind for item in record.resources}
    assert {Kind.GATEWAY, Kind.GATEWAY_API, Kind.LOAD_BALANCER} <= kinds
    assert Kind.INGRESS not in kinds
    assert world.kube.store.list("networking.k8s.io/v1", "Ingress") == []
    gateway = world.kube.store.get(*GATEWAY, "istio-ingress", NS)
    conditions = {c["type"]: c["status"] for c in gateway["status"]["conditions"]}
    assert conditions["Programmed"] == "True"
    elbv2 = world.aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert sorted(listener["Port"] for listener in listeners) == [80, 443]
    assert _idle_timeout(world) == "3600"

    calls, versions = api_calls(), _versions(world)
    setup_load_balancer(spec=spec)
    assert api_calls().since(calls).mutating_calls() == ()
    assert _versions(world) == versions  # nothing written in the cluster either

    assert check_drift(stack=spec.name)["status"] == "ok"
    _tamper_listener(world)
    with pytest.raises(DriftDetected) as raised:
        check_drift(stack=spec.name)
    listener = f"load-balancer ALB of Gateway {NS}/istio-ingress (listener HTTPS:443 ssl-policy)"
    assert list(raised.value.items) == [listener]
    # the ALB is changed only through its front door: the controller is asked to reconcile;
    # "repaired" only when the stack, looked at again after the repair, plans nothing
    assert check_drift(stack=spec.name, remediate=True)["status"] == "repaired"

    _tamper_objects(world, spec.stack.ingress_name)
    with pytest.raises(DriftDetected) as raised:
        check_drift(stack=spec.name)
    named = {
        f"gateway LoadBalancerConfiguration {NS}/istio-ingress (spec.loadBalancerAttributes)",
        f"gateway HTTPRoute {NS}/istio-ingress-http-redirect (missing)",
    }
    assert named <= set(raised.value.items), raised.value.items
    assert check_drift(stack=spec.name, remediate=True)["status"] == "repaired"
    assert _idle_timeout(world) == "3600"
    assert world.kube.store.get(*ROUTE, "istio-ingress-http-redirect", NS)

    leftovers = cleanup_load_balancer(stack=spec.name)
    assert not any(leftovers.values()), leftovers
    assert _aws(world) == aws_before
    assert _kube(world) == kube_before


def test_a_gateway_stack_whose_controller_is_gone_is_cleaned_up_by_its_tags(
    sandbox_world: Callable[..., Any],
) -> None:
    """As the Ingress's cleanup does: with the controller gone, the stack's ALB, listeners,
    target groups and security group are swept by their tags, then the Gateway, its routes,
    configurations and class are released from the controller's finalizers."""
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(account_id="311111119021")
    aws_before, kube_before = _aws(world), _kube(world)
    spec = _spec("gateway-orphan")
    setup_load_balancer(spec=spec)
    store = world.kube.store
    assert store.get(*GATEWAY, "istio-ingress", NS)["metadata"]["finalizers"]
    store.delete("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values()), leftovers
    assert _aws(world) == aws_before  # no ALB, target group or security group left
    # the Gateway API CRDs went too, which they do only once no Gateway API object is left
    assert _kube(world) == kube_before


def test_a_gateway_with_a_v2_controller_is_refused_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import main
    from tasks.aws.clients import api_calls

    config = tmp_path / "config.yaml"
    config.write_text(
        EXAMPLE.read_text().replace(
            "stack:\n", "stack:\n  frontDoor: gateway\n  controllerVersion: v2.17.1\n", 1
        )
    )
    calls = api_calls()
    assert main(["setup", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "stack.frontDoor: gateway needs another AWS Load Balancer Controller than v2.17.1" in err
    assert "Traceback" not in err
    assert api_calls().since(calls).calls == ()
