"""The Gateway front door in core: the spec's choice, the configured objects, and the ALB the
controller builds from them compared with the Ingress path's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import naming
from core.alb import desired_alb
from core.alb_facts import facts_fields
from core.desired import ingress_params
from core.errors import SpecError
from core.gateway import AlbOptions, configure_gateway, gateway_params
from core.gateway_alb import desired_alb_from_gateway
from core.manifests import configure_ingress, unresolved
from core.plan import PRESENT
from core.spec import StackSpec, parse_spec

DEPLOYMENTS = Path(__file__).parents[2] / "deployments"
CERTS = (
    "arn:aws:acm:us-west-2:111122223333:certificate/11111111-2222-3333-4444-555555555555",
    "arn:aws:acm:us-west-2:111122223333:certificate/66666666-7777-8888-9999-000000000000",
)
WAF = "arn:aws:wafv2:us-west-2:111122223333:regional/webacl/kf/12345678-1234-1234-1234-123456789012"


def spec(**stack: Any) -> StackSpec:
    return parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": "us-west-2"},
            "route53": {
                "rootDomain": {"name": "example.com"},
                "subDomain": {"name": "platform.example.com"},
            },
            "kubeflow": {"alb": stack.pop("alb", {})},
            "stack": stack,
        }
    )


def base() -> list[dict[str, Any]]:
    """The kustomize base's objects (its kustomization only adds a part-of label)."""
    kustomization = yaml.safe_load((DEPLOYMENTS / "gateway" / "kustomization.yaml").read_text())
    return [
        document
        for name in kustomization["resources"]
        for document in yaml.safe_load_all((DEPLOYMENTS / "gateway" / name).read_text())
    ]


def configured(stack_spec: StackSpec, **params: Any) -> list[dict[str, Any]]:
    return configure_gateway(base(), gateway_params(stack_spec, CERTS, **params))


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


# -- the spec ---------------------------------------------------------------------------------


def test_the_front_door_is_the_ingress_unless_chosen() -> None:
    assert spec().stack.front_door == "ingress"
    assert spec(frontDoor="gateway").stack.front_door == "gateway"


def test_one_front_door_is_planned_at_a_time() -> None:
    """The Gateway's objects are kinds of the table: a Gateway stack plans the CRDs and the
    Gateway, no Ingress; an Ingress stack the other way round."""
    from datetime import UTC, datetime

    from core.kinds import stack_plan
    from core.observation import Observation
    from core.state import Kind

    nothing = Observation(observed_at=datetime.now(UTC))
    ingress = {change.item.kind for change in stack_plan(spec(), nothing).changes}
    assert Kind.INGRESS in ingress
    assert not ingress & {Kind.GATEWAY, Kind.GATEWAY_API}
    gateway = stack_plan(spec(frontDoor="gateway"), nothing).changes
    kinds = {change.item.kind for change in gateway}
    assert {Kind.GATEWAY, Kind.GATEWAY_API, Kind.LOAD_BALANCER} <= kinds
    assert Kind.INGRESS not in kinds
    (balancer,) = [c for c in gateway if c.item.kind is Kind.LOAD_BALANCER]
    assert balancer.item.key == "ALB of Gateway istio-system/istio-ingress"


def test_a_gateway_front_door_needs_a_v3_controller() -> None:
    with pytest.raises(SpecError) as caught:
        spec(frontDoor="gateway", controllerVersion="v2.17.1")
    message = caught.value.message
    assert "stack.frontDoor: gateway needs another AWS Load Balancer Controller than v2.17.1" in (
        message
    )
    assert "ALBGatewayAPI" in message
    assert "Gateway API v1.3.0" in message
    assert "Use stack.controllerVersion v3.5.0, or frontDoor: ingress" in message
    assert spec(frontDoor="ingress", controllerVersion="v2.17.1").stack.front_door == "ingress"


@pytest.mark.parametrize(
    ("setting", "value"), [("ingressGroup", "shared"), ("manifestsPath", "/tmp/lb")]
)
def test_ingress_only_settings_are_refused_with_a_gateway(setting: str, value: str) -> None:
    with pytest.raises(SpecError, match=f"stack.{setting} applies to the Ingress front door"):
        spec(frontDoor="gateway", **{setting: value})


# -- the objects ------------------------------------------------------------------------------


def test_the_objects_are_configured_from_the_spec() -> None:
    objects = configured(spec(frontDoor="gateway", ingressName="kf-a", tags={"team": "ml"}))
    assert [obj["kind"] for obj in objects] == [
        "GatewayClass",
        "TargetGroupConfiguration",
        "LoadBalancerConfiguration",
        "Gateway",
        "HTTPRoute",
        "HTTPRoute",
    ]
    assert unresolved(objects) == []
    for obj in objects:
        assert naming.is_owned(obj["metadata"]["labels"], "platform-example-com"), obj["kind"]
        if obj["kind"] != "GatewayClass":
            assert obj["metadata"]["namespace"] == "istio-system"
    klass, tgc, lbc, gateway, route, redirect = objects
    assert klass["metadata"]["name"] == "kubeflow-alb"
    assert klass["spec"]["controllerName"] == "gateway.k8s.aws/alb"
    assert gateway["metadata"]["name"] == "kf-a"
    assert gateway["spec"]["gatewayClassName"] == "kubeflow-alb"
    assert gateway["spec"]["infrastructure"]["parametersRef"] == {
        "group": "gateway.k8s.aws",
        "kind": "LoadBalancerConfiguration",
        "name": "kf-a",
    }
    assert [
        (item["name"], item["protocol"], item["port"]) for item in gateway["spec"]["listeners"]
    ] == [
        ("http", "HTTP", 80),
        ("https", "HTTPS", 443),
    ]
    assert (route["metadata"]["name"], redirect["metadata"]["name"]) == (
        "kf-a",
        "kf-a-http-redirect",
    )
    for item, section in ((route, "https"), (redirect, "http")):
        assert item["spec"]["hostnames"] == ["*.platform.example.com"]
        assert item["spec"]["parentRefs"][0]["name"] == "kf-a"
        assert item["spec"]["parentRefs"][0]["sectionName"] == section
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "istio-ingressgateway"
    assert redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"] == {
        "scheme": "https",
        "port": 443,
        "statusCode": 301,
    }
    config = lbc["spec"]
    assert config["scheme"] == "internet-facing"
    assert config["listenerConfigurations"] == [
        {
            "protocolPort": "HTTPS:443",
            "defaultCertificate": CERTS[0],
            "certificates": [CERTS[1]],
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        }
    ]
    assert config["defaultTargetGroupConfiguration"] == {"name": "kf-a"}
    assert config["tags"] == {
        "team": "ml",
        "kubeflow-alb/stack": "platform-example-com",
        "app.kubernetes.io/managed-by": "kubeflow-alb",
    }
    # The option table's secure defaults (Security Hub ELB.4, ELB.6, ELB.12; Kubeflow's idle
    # timeout), as the Ingress front door gets them.
    assert {item["key"]: item["value"] for item in config["loadBalancerAttributes"]} == {
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "deletion_protection.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive",
        "idle_timeout.timeout_seconds": "3600",
    }
    assert not {"wafV2", "sourceRanges", "ipAddressType", "loadBalancerSubnets"} & set(config)
    assert tgc["metadata"]["name"] == "kf-a"
    assert tgc["spec"]["defaultConfiguration"]["targetType"] == "ip"
    assert tgc["spec"]["defaultConfiguration"]["tags"] == config["tags"]
    assert tgc["spec"]["defaultConfiguration"]["healthCheckConfig"] == {
        "healthCheckProtocol": "HTTP",
        "healthCheckPort": "15021",
        "healthCheckPath": "/healthz/ready",
        "matcher": {"httpCode": "200"},
    }


def test_options_that_are_set_are_declared_and_others_are_not() -> None:
    stack_spec = spec(
        frontDoor="gateway",
        alb={
            "scheme": "internal",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "wafAclArn": WAF,
            "accessLogs": {"bucket": "alb-logs", "prefix": "kf"},
            "inboundCidrs": ["10.0.0.0/8"],
            "ipAddressType": "dualstack",
        },
    )
    lbc = by_kind(
        configured(stack_spec, subnets=("subnet-a", "subnet-b")), "LoadBalancerConfiguration"
    )
    config = lbc[0]["spec"]
    assert config["scheme"] == "internal"
    assert config["listenerConfigurations"][0]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert config["wafV2"] == {"webACL": WAF}
    assert config["sourceRanges"] == ["10.0.0.0/8"]
    assert config["ipAddressType"] == "dualstack"
    assert config["loadBalancerSubnets"] == [{"identifier": "subnet-a"}, {"identifier": "subnet-b"}]
    assert {item["key"]: item["value"] for item in config["loadBalancerAttributes"]} == {
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "deletion_protection.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive",
        "idle_timeout.timeout_seconds": "3600",
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": "alb-logs",
        "access_logs.s3.prefix": "kf",
    }


def test_the_option_table_plugs_in_as_options() -> None:
    """Whatever the option table gives (attributes, TLS policy) is what the configuration says."""
    options = AlbOptions(
        attributes={"deletion_protection.enabled": "true", "idle_timeout.timeout_seconds": "300"},
        ssl_policy="ELBSecurityPolicy-TLS13-1-3-2021-06",
    )
    lbc = by_kind(
        configured(spec(frontDoor="gateway"), options=options), "LoadBalancerConfiguration"
    )
    config = lbc[0]["spec"]
    assert config["loadBalancerAttributes"] == [
        {"key": "deletion_protection.enabled", "value": "true"},
        {"key": "idle_timeout.timeout_seconds", "value": "300"},
    ]
    assert config["listenerConfigurations"][0]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"


def test_bad_parameters_are_refused() -> None:
    params = gateway_params(spec(frontDoor="gateway"), ())
    with pytest.raises(SpecError, match="at least one certificate"):
        configure_gateway(base(), params)
    bad_scheme = gateway_params(spec(frontDoor="gateway"), CERTS)
    with pytest.raises(SpecError, match="scheme 'public'"):
        configure_gateway(base(), type(bad_scheme)(**{**bad_scheme.__dict__, "scheme": "public"}))
    without_route = [obj for obj in base() if obj["kind"] != "HTTPRoute"]
    with pytest.raises(SpecError, match="lacks: http, https"):
        configure_gateway(without_route, bad_scheme)


def test_the_base_is_not_changed_by_configuring() -> None:
    objects = base()
    before = copy.deepcopy(objects)
    configure_gateway(objects, gateway_params(spec(frontDoor="gateway"), CERTS))
    assert objects == before


# -- the ALB the controller builds ------------------------------------------------------------


def _ingress_fields(stack_spec: StackSpec) -> dict[str, str]:
    ingress = yaml.safe_load((DEPLOYMENTS / "ingress" / "ingress.yaml").read_text())
    params = ingress_params(stack_spec, certificate_arns=CERTS, ingress_class="alb")
    facts = desired_alb(configure_ingress(ingress, params), cluster="kubeflow", target_port=8080)
    return facts_fields(facts)


def _gateway_fields(stack_spec: StackSpec) -> dict[str, str]:
    facts = desired_alb_from_gateway(configured(stack_spec), cluster="kubeflow", target_port=8080)
    return facts_fields(facts)


GATEWAY_TG = (
    "istio-system/istio-ingress:istio-system-istio-ingress:HTTPRoute-"
    "istio-system-istio-ingressgateway:80"
)


@pytest.mark.parametrize(
    "alb",
    [
        {},
        {
            "scheme": "internal",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "wafAclArn": WAF,
            "accessLogs": {"bucket": "alb-logs", "prefix": "kf"},
            "inboundCidrs": ["10.0.0.0/8", "2001:db8::/32"],
            "ipAddressType": "dualstack",
        },
    ],
)
def test_the_gateway_alb_equals_the_ingress_alb_but_where_the_controller_differs(
    alb: dict[str, Any],
) -> None:
    stack_spec = spec(frontDoor="gateway", alb=alb, tags={"team": "ml"})
    ingress, gateway = _ingress_fields(stack_spec), _gateway_fields(stack_spec)
    differing = {
        name for name in set(ingress) | set(gateway) if ingress.get(name) != gateway.get(name)
    }
    assert differing == {
        # HTTP :80 redirects by a rule on the route's hosts; its default is the listeners' 404.
        "listener HTTP:80 action",
        "listener HTTP:80 rules",
        # Rules match the route's hostnames; the target group is named after Gateway and route.
        "listener HTTPS:443 rules",
        # The Gateway controller's own tracking tags.
        "tag ingress.k8s.aws/stack",
        "tag ingress.k8s.aws/resource",
        "tag gateway.k8s.aws.alb/stack",
        "tag gateway.k8s.aws.alb/resource",
        "target-group tag ingress.k8s.aws/stack",
        "target-group tag ingress.k8s.aws/resource",
        "target-group tag gateway.k8s.aws.alb/stack",
        "target-group tag gateway.k8s.aws.alb/resource",
    }
    assert ingress["listener HTTP:80 action"] == "redirect HTTPS:443 HTTP_301"
    assert gateway["listener HTTP:80 action"] == "fixed-response 404 text/plain"
    assert gateway["listener HTTP:80 rules"] == (
        "1 host-header=*.platform.example.com path-pattern=/* -> redirect HTTPS:443 HTTP_301"
    )
    assert gateway["listener HTTPS:443 rules"] == (
        f"1 host-header=*.platform.example.com path-pattern=/* -> forward {GATEWAY_TG}"
    )
    assert gateway["tag gateway.k8s.aws.alb/stack"] == "istio-system/istio-ingress"
    assert gateway["tag gateway.k8s.aws.alb/resource"] == "LoadBalancer"
    assert gateway["target-group tag gateway.k8s.aws.alb/resource"] == GATEWAY_TG
    # Everything else is the same field by field: certificates, TLS policy, health check,
    # attributes, the stack's tags, options.
    for name in (
        "listener HTTPS:443 certificate",
        "listener HTTPS:443 sni-certificates",
        "listener HTTPS:443 ssl-policy",
        "target-group health-check path",
        "target-group health-check port",
        "target-group health-check success-codes",
        "target-group target-type",
        "target-group port",
        "tag kubeflow-alb/stack",
        "tag team",
        "target-group tag team",
    ):
        assert gateway[name] == ingress[name], name


def test_a_listener_without_a_route_is_not_built() -> None:
    objects = [
        obj
        for obj in configured(spec(frontDoor="gateway"))
        if not obj["metadata"]["name"].endswith("-http-redirect")
    ]
    facts = desired_alb_from_gateway(objects, cluster="kubeflow")
    assert [listener.key for listener in facts.listeners] == ["HTTPS:443"]


def test_controller_defaults_where_nothing_is_configured() -> None:
    objects = configured(spec(frontDoor="gateway"))
    for obj in objects:
        if obj["kind"] == "LoadBalancerConfiguration":
            obj["spec"] = {"listenerConfigurations": [{"protocolPort": "HTTPS:443"}]}
        if obj["kind"] == "TargetGroupConfiguration":
            obj["spec"] = {}
    facts = desired_alb_from_gateway(objects, cluster="kubeflow", target_port=8080)
    fields = facts_fields(facts)
    assert fields["scheme"] == "internal"
    assert fields["listener HTTPS:443 ssl-policy"] == "ELBSecurityPolicy-2016-08"
    assert fields["target-group target-type"] == "instance"
    assert fields["target-group port"] == PRESENT  # an instance target's port is its node port
    assert fields["target-group health-check success-codes"] == "200-399"
    assert fields["target-group health-check port"] == "traffic-port"


def test_a_switch_of_front_door_plans_the_old_one_removed() -> None:
    from datetime import UTC, datetime

    from core import naming
    from core.gateway_state import FrontDoorState, GatewayState
    from core.kinds import stack_plan
    from core.kubestate import IngressState
    from core.observation import Observation
    from core.plan import Action
    from core.state import Kind

    gateway_spec = spec(frontDoor="gateway")
    labels = naming.ownership_labels(gateway_spec.name)
    ingress = IngressState(namespace="istio-system", name="istio-ingress", labels=labels)
    seen = Observation(observed_at=datetime.now(UTC), ingress=ingress)
    (former,) = [c for c in stack_plan(gateway_spec, seen).changes
                 if c.item.kind is Kind.FORMER_FRONT_DOOR]  # fmt: skip
    assert former.action is Action.DELETE
    assert former.item.key == "Ingress istio-system/istio-ingress"

    door = GatewayState(kind="Gateway", namespace="istio-system", name="istio-ingress",
                        labels=labels)  # fmt: skip
    back = Observation(observed_at=datetime.now(UTC), gateway=FrontDoorState(gateway=door))
    (former,) = [c for c in stack_plan(spec(), back).changes
                 if c.item.kind is Kind.FORMER_FRONT_DOOR]  # fmt: skip
    assert former.action is Action.DELETE
    assert former.item.key == "Gateway istio-system/istio-ingress"
    # someone else's front door of that name is not ours to remove
    other = IngressState(namespace="istio-system", name="istio-ingress")
    theirs = Observation(observed_at=datetime.now(UTC), ingress=other)
    assert not [c for c in stack_plan(gateway_spec, theirs).changes
                if c.item.kind is Kind.FORMER_FRONT_DOOR]  # fmt: skip
