"""The ALB's desired facts from our Ingress, observed facts from ELBv2 state, and their fields."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import naming
from core.alb import (
    alb_fields,
    desired_alb,
    desired_alb_fields,
    service_target_port,
)
from core.errors import SpecError
from core.manifests import ALB_PREFIX, DEFAULT_SSL_POLICY, IngressParams, configure_ingress
from core.plan import PRESENT, Item, plan
from core.resources import (
    ActionState,
    ListenerState,
    LoadBalancerState,
    RuleState,
    TargetGroupState,
)
from core.state import Kind

BUNDLED = Path(__file__).parents[2] / "deployments" / "ingress" / "ingress.yaml"
CERTS = ("arn:aws:acm:us-west-2:1:certificate/sub", "arn:aws:acm:us-west-2:1:certificate/root")
GROUP_ID = "istio-system/istio-ingress-istio-ingressgateway:80"
TG_ARN = "arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/k8s-istiosys-istioing-1/1"


def ours(**changes: str) -> dict[str, Any]:
    """The bundled Ingress as setup renders it, with annotations changed (empty: removed)."""
    ingress = configure_ingress(
        yaml.safe_load(BUNDLED.read_text()),
        IngressParams(
            stack="platform",
            certificate_arns=CERTS,
            scheme="internet-facing",
            tags=naming.ownership_tags("platform", {"team": "ml"}),
        ),
    )
    annotations = ingress["metadata"]["annotations"]
    for name, value in changes.items():
        key = ALB_PREFIX + name.replace("_", "-")
        if value:
            annotations[key] = value
        else:
            annotations.pop(key)
    return ingress


def observed(**changes: Any) -> LoadBalancerState:
    """The ALB the controller builds for `ours()`, as tasks.aws.elbv2 reads it."""
    resource_tags = {
        "elbv2.k8s.aws/cluster": "kubeflow",
        "ingress.k8s.aws/stack": "istio-system/istio-ingress",
    }
    user = {"team": "ml", **naming.ownership_tags("platform")}
    https = ListenerState(
        arn="l-443",
        port=443,
        protocol="HTTPS",
        certificate_arns=CERTS,
        ssl_policy=DEFAULT_SSL_POLICY,
        default_actions=(
            ActionState(type="fixed-response", status_code="404", content_type="text/plain"),
        ),
        rules=(
            RuleState(
                arn="r-1",
                priority="1",
                conditions={"path-pattern": ("/*",)},
                actions=(ActionState(type="forward", target_group_arns=(TG_ARN,)),),
            ),
        ),
    )
    http = ListenerState(
        arn="l-80",
        port=80,
        protocol="HTTP",
        default_actions=(
            ActionState(
                type="redirect",
                redirect_protocol="HTTPS",
                redirect_port="443",
                redirect_host="#{host}",
                redirect_path="/#{path}",
                redirect_query="#{query}",
                status_code="HTTP_301",
            ),
        ),
    )
    group = TargetGroupState(
        arn=TG_ARN,
        name="k8s-istiosys-istioing-1",
        target_type="ip",
        protocol="HTTP",
        port=8080,
        health_check_protocol="HTTP",
        health_check_port="15021",
        health_check_path="/healthz/ready",
        health_check_interval_seconds=15,
        success_codes="200",
        tags={**user, **resource_tags, "ingress.k8s.aws/resource": GROUP_ID},
    )
    fields: dict[str, Any] = {
        "arn": "arn:lb",
        "name": "k8s-istiosys-istioing-1",
        "dns_name": "k8s-istiosys-istioing-1.us-west-2.elb.amazonaws.com",
        "state": "active",
        "scheme": "internet-facing",
        "canonical_hosted_zone_id": "Z1H1FL5HABSF5",
        "subnet_ids": ("subnet-b", "subnet-a"),
        "listeners": (http, https),
        "target_groups": (group,),
        "attributes": {  # the defaults of kubeflow.alb's options (core/alb_options.py)
            "routing.http.drop_invalid_header_fields.enabled": "true",
            "deletion_protection.enabled": "true",
            "routing.http.desync_mitigation_mode": "defensive",
            "idle_timeout.timeout_seconds": "3600",
            "routing.http2.enabled": "true",  # not declared: not compared
        },
        "tags": {**user, **resource_tags, "ingress.k8s.aws/resource": "LoadBalancer"},
    }
    fields.update(changes)
    return LoadBalancerState(**fields)


def drift(wanted: dict[str, str], state: LoadBalancerState) -> dict[str, tuple[str, str]]:
    item = Item(Kind.LOAD_BALANCER, "alb", wanted)
    (change,) = plan([item], {(Kind.LOAD_BALANCER, "alb"): alb_fields(state)}).changes
    return {d.field: (d.expected, d.found) for d in change.differences}


def test_our_ingress_declares_the_alb_we_want() -> None:
    fields = desired_alb_fields(ours(), cluster="kubeflow", target_port=8080)
    assert fields["scheme"] == "internet-facing"
    assert fields["listeners"] == "HTTP:80,HTTPS:443"
    assert fields["listener HTTP:80 action"] == "redirect HTTPS:443 HTTP_301"
    assert "listener HTTP:80 rules" not in fields  # a redirecting listener has none
    assert fields["listener HTTPS:443 certificate"] == CERTS[0]
    assert fields["listener HTTPS:443 sni-certificates"] == CERTS[1]
    assert fields["listener HTTPS:443 ssl-policy"] == DEFAULT_SSL_POLICY
    assert fields["listener HTTPS:443 action"] == "fixed-response 404 text/plain"
    assert fields["listener HTTPS:443 rules"] == f"1 path-pattern=/* -> forward {GROUP_ID}"
    # The check that works against istio-ingressgateway: Envoy's readiness on the status port.
    assert fields["target-group health-check port"] == "15021"
    assert fields["target-group health-check path"] == "/healthz/ready"
    assert fields["target-group health-check protocol"] == "HTTP"
    assert fields["target-group health-check success-codes"] == "200"
    assert (fields["target-group target-type"], fields["target-group port"]) == ("ip", "8080")
    assert fields["attribute routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert fields["tag team"] == "ml"
    assert fields["tag kubeflow-alb/stack"] == "platform"
    assert fields["tag elbv2.k8s.aws/cluster"] == "kubeflow"
    assert fields["tag ingress.k8s.aws/stack"] == "istio-system/istio-ingress"
    assert fields["tag ingress.k8s.aws/resource"] == "LoadBalancer"
    assert fields["target-group tag ingress.k8s.aws/resource"] == GROUP_ID
    assert fields["target-group tag team"] == "ml"
    assert "subnets" not in fields  # not known: not compared


def test_the_alb_the_controller_built_matches() -> None:
    assert drift(desired_alb_fields(ours(), cluster="kubeflow", target_port=8080), observed()) == {}
    wanted = desired_alb_fields(ours(), cluster="kubeflow", subnets=["subnet-a", "subnet-b"])
    assert wanted["subnets"] == "subnet-a,subnet-b"
    assert wanted["target-group port"] == PRESENT  # any port, when the Service's is not known
    assert drift(wanted, observed()) == {}


def test_each_tampering_is_exactly_one_difference() -> None:
    wanted = desired_alb_fields(ours(), cluster="kubeflow", target_port=8080)
    base = observed()
    http, https = base.listeners
    (group,) = base.target_groups
    assert drift(wanted, observed(listeners=(https,))) == {
        "listeners": ("HTTP:80,HTTPS:443", "HTTPS:443"),
        "listener HTTP:80 action": ("redirect HTTPS:443 HTTP_301", ""),
    }
    weak = https.model_copy(update={"ssl_policy": "ELBSecurityPolicy-2016-08"})
    assert drift(wanted, observed(listeners=(http, weak))) == {
        "listener HTTPS:443 ssl-policy": (DEFAULT_SSL_POLICY, "ELBSecurityPolicy-2016-08")
    }
    broken = group.model_copy(update={"health_check_path": "/"})
    assert drift(wanted, observed(target_groups=(broken,))) == {
        "target-group health-check path": ("/healthz/ready", "/")
    }
    flipped = {**base.attributes, "routing.http.drop_invalid_header_fields.enabled": "FALSE"}
    assert drift(wanted, observed(attributes=flipped)) == {
        "attribute routing.http.drop_invalid_header_fields.enabled": ("true", "false")
    }
    untagged = {k: v for k, v in base.tags.items() if k != "team"}
    assert drift(wanted, observed(tags=untagged)) == {"tag team": ("ml", "")}
    found_sni = https.model_copy(update={"certificate_arns": CERTS[:1]})
    assert drift(wanted, observed(listeners=(http, found_sni))) == {
        "listener HTTPS:443 sni-certificates": (CERTS[1], "none")
    }


def test_routing_changes_are_differences_too() -> None:
    wanted = desired_alb_fields(ours(), cluster="kubeflow", target_port=8080)
    http, https = observed().listeners
    (redirect,) = http.default_actions
    found = redirect.model_copy(update={"status_code": "HTTP_302", "redirect_host": "evil.example"})
    moved = http.model_copy(update={"default_actions": (found,)})
    assert drift(wanted, observed(listeners=(moved, https))) == {
        "listener HTTP:80 action": (
            "redirect HTTPS:443 HTTP_301",
            "redirect HTTPS:443 HTTP_302 host=evil.example",
        )
    }
    no_rules = https.model_copy(update={"rules": ()})
    assert drift(wanted, observed(listeners=(http, no_rules))) == {
        "listener HTTPS:443 rules": (f"1 path-pattern=/* -> forward {GROUP_ID}", "none")
    }
    assert drift(wanted, observed(target_groups=())) == {
        "listener HTTPS:443 rules": (
            f"1 path-pattern=/* -> forward {GROUP_ID}",
            f"1 path-pattern=/* -> forward {TG_ARN}",
        ),
        **{name: (value, "") for name, value in wanted.items() if name.startswith("target-group ")},
    }


def test_controller_defaults_apply_where_the_ingress_is_silent() -> None:
    bare = ours(
        listen_ports="",
        ssl_redirect="",
        ssl_policy="",
        healthcheck_port="",
        healthcheck_path="",
        healthcheck_protocol="",
        success_codes="",
        scheme="",
        target_type="",
        load_balancer_attributes="",
    )
    facts = desired_alb(bare, cluster="kubeflow", target_port=8080)
    assert facts.scheme == "internal"
    (listener,) = facts.listeners  # certificates, no listen-ports: HTTPS:443 alone
    assert (listener.key, listener.ssl_policy) == ("HTTPS:443", "ELBSecurityPolicy-2016-08")
    assert facts.target_group is not None
    assert facts.target_group.target_type == "instance"
    assert facts.target_group.port == PRESENT  # a node port: not known from the Ingress
    assert dict(facts.target_group.health_check) == {
        "protocol": "HTTP",
        "path": "/",
        "port": "traffic-port",
        "success-codes": "200",
    }
    assert facts.options == {}  # no attribute and no option annotated: none declared
    no_tls = ours(certificate_arn="", listen_ports="", ssl_redirect="")
    assert [item.key for item in desired_alb(no_tls, cluster="c").listeners] == ["HTTP:80"]


def test_optional_health_check_settings_and_pending_certificates() -> None:
    ingress = ours(healthcheck_interval_seconds="10", success_codes="200, 302")
    ingress["metadata"]["annotations"][ALB_PREFIX + "certificate-arn"] = PRESENT
    fields = desired_alb_fields(ingress, cluster="kubeflow")
    assert fields["target-group health-check interval-seconds"] == "10"
    assert fields["target-group health-check success-codes"] == "200,302"
    assert "target-group health-check timeout-seconds" not in fields
    assert fields["listener HTTPS:443 certificate"] == PRESENT
    assert fields["listener HTTPS:443 sni-certificates"] == PRESENT
    # PRESENT accepts whatever certificates are found, but not a missing listener.
    assert "listener HTTPS:443 certificate" not in drift(fields, observed())


def test_host_rules_and_several_paths() -> None:
    ingress = ours()
    rule = copy.deepcopy(ingress["spec"]["rules"][0])
    rule["host"] = "Kubeflow.Platform.Example.com"
    rule["http"]["paths"][0].update({"path": "/pipeline/", "pathType": "Prefix"})
    ingress["spec"]["rules"].insert(0, rule)
    (listener,) = [
        item for item in desired_alb(ingress, cluster="kubeflow").listeners if item.port == 443
    ]
    assert listener.rules == (
        "1 host-header=kubeflow.platform.example.com path-pattern=/pipeline,/pipeline/* "
        f"-> forward {GROUP_ID}",
        f"2 path-pattern=/* -> forward {GROUP_ID}",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("listen_ports", "HTTP:80", "listen-ports 'HTTP:80' is not like"),
        ("listen_ports", "[]", "listen-ports '\\[\\]' is not like"),
        ("tags", "team", "tags has 'team', not key=value"),
        ("load_balancer_attributes", "x", "load-balancer-attributes has 'x'"),
    ],
)
def test_annotations_the_controller_would_refuse_are_spec_errors(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(
        SpecError, match=f"Ingress istio-system/istio-ingress: annotation .*{message}"
    ):
        desired_alb(ours(**{name: value}), cluster="kubeflow")


def test_forward_configs_and_unknown_groups_are_named_stably() -> None:
    http, https = observed().listeners
    weighted = ActionState(type="forward", target_group_arns=("arn:b", TG_ARN))
    rule = RuleState(
        arn="r-2", priority="2", conditions={"host-header": ("a",)}, actions=(weighted,)
    )
    more = https.model_copy(update={"rules": (rule, *(https.rules or ()))})
    fields = alb_fields(observed(listeners=(http, more)))
    assert fields["listener HTTPS:443 rules"] == (
        f"1 path-pattern=/* -> forward {GROUP_ID}; 2 host-header=a -> forward arn:b+{GROUP_ID}"
    )


def test_the_target_port_is_the_services_target_port() -> None:
    gateway = {
        "spec": {
            "ports": [
                {"name": "status-port", "port": 15021, "targetPort": 15021},
                {"name": "http2", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": "https"},
            ]
        }
    }
    assert service_target_port(gateway) == 8080
    assert service_target_port(gateway, "http2") == 8080
    assert service_target_port(gateway, 443) is None  # a named port: the pods' spec decides
    assert service_target_port(gateway, 8443) is None
    assert service_target_port({"spec": {"ports": [{"port": 80}]}}) == 80
