"""The ALB option table (core/alb_options.py): one entry per option gives the spec field, the
Ingress annotation or attributes, the declared ALB fields with their normalisation, and cleanup's
values; the defaults pass AWS Security Hub ELB.4, ELB.6 and ELB.12 (pure)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import alb_options
from core.alb import alb_fields, desired_alb_fields
from core.alb_options import OPTIONS
from core.desired import ingress_params
from core.errors import SpecError
from core.manifests import ALB_PREFIX, configure_ingress
from core.plan import Item, plan
from core.resources import LoadBalancerState
from core.spec import Alb, AlbBase, StackSpec, parse_spec
from core.state import Kind

REPO = Path(__file__).parents[2]
BUNDLED = REPO / "deployments" / "ingress" / "ingress.yaml"
CERT = "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
ATTRIBUTES = ALB_PREFIX + "load-balancer-attributes"
GUIDE: dict[str, Any] = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {"rootDomain": {"name": "example.com"}, "subDomain": {"name": "platform.example.com"}},
    "kubeflow": {"alb": {"scheme": "internet-facing"}},
}  # fmt: skip
#: The attributes kubeflow.alb's defaults give the ALB.
SECURE = {
    "routing.http.drop_invalid_header_fields.enabled": "true",
    "deletion_protection.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "idle_timeout.timeout_seconds": "3600",
}


def spec_with(**alb: Any) -> StackSpec:
    data = copy.deepcopy(GUIDE)
    data["kubeflow"]["alb"].update(alb)
    return parse_spec(data)


def rendered(spec: StackSpec, ingress: dict[str, Any] | None = None) -> dict[str, Any]:
    base = ingress if ingress is not None else yaml.safe_load(BUNDLED.read_text())
    return configure_ingress(
        base, ingress_params(spec, certificate_arns=(CERT,), ingress_class="alb")
    )


def attributes_of(spec: StackSpec, ingress: dict[str, Any] | None = None) -> dict[str, str]:
    raw = rendered(spec, ingress)["metadata"]["annotations"][ATTRIBUTES]
    return dict(pair.split("=", 1) for pair in raw.split(","))


def alb(attributes: dict[str, str]) -> LoadBalancerState:
    return LoadBalancerState(arn="arn:lb", name="k8s-x", dns_name="k8s-x.elb.amazonaws.com",
                             state="active", scheme="internet-facing",
                             canonical_hosted_zone_id="Z1H1FL5HABSF5",
                             attributes={**attributes, "routing.http2.enabled": "true"})  # fmt: skip


def attribute_drift(spec: StackSpec, attributes: dict[str, str]) -> dict[str, tuple[str, str]]:
    wanted = {k: v for k, v in desired_alb_fields(rendered(spec), cluster="kubeflow").items()
              if k.startswith("attribute ")}  # fmt: skip
    item = Item(Kind.LOAD_BALANCER, "alb", wanted)
    (change,) = plan([item], {(Kind.LOAD_BALANCER, "alb"): alb_fields(alb(attributes))}).changes
    return {d.field: (d.expected, d.found) for d in change.differences}


def test_the_spec_fields_of_kubeflow_alb_are_the_table_s_entries() -> None:
    options = set(Alb.model_fields) - set(AlbBase.model_fields)
    assert options == {option.name for option in OPTIONS}
    schema = StackSpec.model_json_schema(by_alias=True)["$defs"]["Alb"]["properties"]
    for option in OPTIONS:
        field = option.setting.removeprefix("kubeflow.alb.")
        assert schema[field]["description"] == option.description
    alb_spec = spec_with().kubeflow.alb
    assert {o.name: o.of(alb_spec) for o in OPTIONS} == {o.name: o.default for o in OPTIONS}


def test_the_defaults_pass_security_hub_elb_4_elb_6_and_elb_12() -> None:
    spec = spec_with()
    assert SECURE.items() <= attributes_of(spec).items()
    # The bundled Ingress sets no attribute of its own: all of them come from the table.
    assert ATTRIBUTES not in yaml.safe_load(BUNDLED.read_text())["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("option", "value", "attribute", "text"),
    [
        ("deletionProtection", False, "deletion_protection.enabled", "false"),
        ("desyncMitigationMode", "strictest", "routing.http.desync_mitigation_mode", "strictest"),
        ("desyncMitigationMode", "monitor", "routing.http.desync_mitigation_mode", "monitor"),
        ("idleTimeoutSeconds", 120, "idle_timeout.timeout_seconds", "120"),
        ("dropInvalidHeaderFields", False, "routing.http.drop_invalid_header_fields.enabled", "false"),
    ],
)  # fmt: skip
def test_each_option_becomes_its_attribute_and_a_declared_alb_field(
    option: str, value: Any, attribute: str, text: str
) -> None:
    spec = spec_with(**{option: value})
    assert attributes_of(spec)[attribute] == text
    assert desired_alb_fields(rendered(spec), cluster="kubeflow")[f"attribute {attribute}"] == text


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("idleTimeoutSeconds", 0),
        ("idleTimeoutSeconds", 4001),  # AWS's bounds: 1-4000
        ("desyncMitigationMode", "off"),
        ("deletionProtection", "maybe"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(option: str, value: Any) -> None:
    with pytest.raises(SpecError) as caught:
        spec_with(**{option: value})
    assert f"kubeflow.alb.{option}" in caught.value.message


def test_each_tampered_attribute_is_drift_by_its_name_and_values_normalise() -> None:
    spec = spec_with()
    assert attribute_drift(spec, SECURE) == {}
    # As AWS may write them: case, spacing and leading zeros are not drift.
    assert attribute_drift(spec, {**SECURE, "deletion_protection.enabled": "TRUE",
                                  "idle_timeout.timeout_seconds": "03600"}) == {}  # fmt: skip
    tampered = {
        "deletion_protection.enabled": "false",
        "routing.http.desync_mitigation_mode": "monitor",
        "idle_timeout.timeout_seconds": "60",
        "routing.http.drop_invalid_header_fields.enabled": "false",
    }
    for key, value in tampered.items():
        assert attribute_drift(spec, {**SECURE, key: value}) == {
            f"attribute {key}": (SECURE[key], value)
        }


def test_a_custom_ingress_keeps_its_other_attributes_and_the_options_win_on_theirs() -> None:
    custom = yaml.safe_load(BUNDLED.read_text())
    custom["metadata"]["annotations"][ATTRIBUTES] = (
        "routing.http2.enabled=false,idle_timeout.timeout_seconds=600"
    )
    found = attributes_of(spec_with(), custom)
    assert found["routing.http2.enabled"] == "false"  # the Ingress's own
    assert found["idle_timeout.timeout_seconds"] == "3600"  # the spec's, by default
    logs = attributes_of(spec_with(accessLogs={"bucket": "logs", "prefix": "Kubeflow/Prod"}))
    assert logs["access_logs.s3.prefix"] == "Kubeflow/Prod"
    # The prefix is case-sensitive in S3: another case is drift, a boolean's case is not.
    spec = spec_with(accessLogs={"bucket": "logs", "prefix": "Kubeflow/Prod"})
    seen = {**SECURE, "access_logs.s3.enabled": "TRUE", "access_logs.s3.bucket": "logs",
            "access_logs.s3.prefix": "kubeflow/prod"}  # fmt: skip
    assert attribute_drift(spec, seen) == {
        "attribute access_logs.s3.prefix": ("Kubeflow/Prod", "kubeflow/prod")
    }


def test_cleanup_lifts_deletion_protection_through_the_annotation() -> None:
    assert alb_options.cleanup_attributes() == {"deletion_protection.enabled": "false"}
    annotations = rendered(spec_with())["metadata"]["annotations"]
    lifted = alb_options.lifting_annotation(annotations)
    pairs = dict(pair.split("=", 1) for pair in lifted[ATTRIBUTES].split(","))
    assert pairs == {**attributes_of(spec_with()), "deletion_protection.enabled": "false"}
    assert alb_options.lifting_annotation({**annotations, **lifted}) == {}  # already lifted
    # An Ingress that does not name the attribute does not hold its ALB back: nothing to lift.
    assert alb_options.lifting_annotation({ATTRIBUTES: "routing.http2.enabled=true"}) == {}
    assert alb_options.lifted({"deletion_protection.enabled": "false"})
    assert not alb_options.lifted({"deletion_protection.enabled": "true"})


def test_ingress_params_is_the_spec_rendered_in_one_place() -> None:
    data = copy.deepcopy(GUIDE)
    data["kubeflow"]["alb"]["idleTimeoutSeconds"] = 900
    data["stack"] = {"ingressName": "team2", "ingressGroup": "shared", "tags": {"team": "ml"}}
    spec = parse_spec(data)
    params = ingress_params(spec, certificate_arns=(CERT,), ingress_class="alb-auto")
    assert (params.stack, params.name, params.group, params.ingress_class) == (
        spec.name, "team2", "shared", "alb-auto")  # fmt: skip
    assert params.host == "*.platform.example.com"
    assert params.tags == spec.tags
    assert params.options == spec.kubeflow.alb
    assert attributes_of(spec)["idle_timeout.timeout_seconds"] == "900"


def test_each_attribute_is_named_in_at_most_two_production_files() -> None:
    # What `git grep -l <attribute>` over core/ tasks/ flows/ kfalb/ lists (`.` matches any).
    # Every file, data included (core/security_hub_elb.json lists AWS's attribute defaults).
    sources = [path for folder in ("core", "tasks", "flows", "kfalb")
               for path in (REPO / folder).rglob("*")
               if path.is_file() and path.suffix in (".py", ".json", ".yaml", ".md")]  # fmt: skip
    texts = {path: path.read_text() for path in sources}
    for key in SECURE:
        pattern = re.compile(key)
        found = [
            str(path.relative_to(REPO)) for path, text in texts.items() if pattern.search(text)
        ]
        assert 1 <= len(found) <= 2, (key, found)
