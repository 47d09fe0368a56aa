"""The ALB options of the spec: validated before any call with the field named, rendered as Ingress
annotations, hence declared ALB fields, and planned against the observed ALB (pure)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import naming
from core.alb import alb_fields, desired_alb_fields
from core.desired import dashboard_records, ingress_params
from core.errors import SpecError
from core.manifests import ALB_PREFIX, DEFAULT_SSL_POLICY, configure_ingress
from core.plan import Item, plan
from core.resources import LoadBalancerState
from core.spec import StackSpec, parse_spec
from core.state import Kind

BUNDLED = Path(__file__).parents[2] / "deployments" / "ingress" / "ingress.yaml"
CERT = "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555"
WAF = (
    "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/kubeflow/"
    "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)
GUIDE: dict[str, Any] = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {
        "rootDomain": {"name": "example.com"},
        "subDomain": {"name": "platform.example.com"},
    },  # fmt: skip
    "kubeflow": {"alb": {"scheme": "internet-facing"}},
}
ALL_OPTIONS = {
    "scheme": "internet-facing",
    "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "wafAclArn": WAF,
    "accessLogs": {"bucket": "kubeflow-alb-logs", "prefix": "platform"},
    "inboundCidrs": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"],
    "ipAddressType": "dualstack",
}


def spec_with(**alb: Any) -> StackSpec:
    data = copy.deepcopy(GUIDE)
    data["kubeflow"]["alb"].update(alb)
    return parse_spec(data)


def rendered(spec: StackSpec, ingress: dict[str, Any] | None = None) -> dict[str, Any]:
    base = ingress if ingress is not None else yaml.safe_load(BUNDLED.read_text())
    params = ingress_params(spec, certificate_arns=(CERT,), ingress_class="alb")
    return configure_ingress(base, params)


def test_all_options_are_accepted_under_their_camel_case_names() -> None:
    alb = spec_with(**ALL_OPTIONS).kubeflow.alb
    assert alb.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert alb.waf_acl_arn == WAF
    assert alb.access_logs is not None
    assert alb.access_logs.bucket == "kubeflow-alb-logs"
    assert alb.inbound_cidrs == ("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32")
    assert alb.ip_address_type == "dualstack"


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("wafAclArn", "arn:aws:wafv2:us-west-2:123456789012:global/webacl/x/1", "wafAclArn"),
        ("wafAclArn", WAF.replace("us-west-2", "eu-west-1"), "wafAclArn"),  # another region
        ("wafAclArn", WAF.replace(":123456789012:", ":1234:"), "wafAclArn"),
        ("inboundCidrs", ["10.0.0.0/33"], "inboundCidrs"),
        ("inboundCidrs", ["10.0.0.1/8"], "inboundCidrs"),  # host bits set
        ("inboundCidrs", ["2001:db8::/32"], "inboundCidrs"),  # IPv6 needs dualstack
        ("accessLogs", {"bucket": "Bad_Bucket"}, "accessLogs.bucket"),
        ("accessLogs", {"bucket": "192.168.1.1"}, "accessLogs.bucket"),
        ("accessLogs", {"bucket": "logs", "prefix": "AWSLogs/x"}, "accessLogs.prefix"),
        ("accessLogs", {"prefix": "p"}, "accessLogs.bucket"),
        ("ipAddressType", "ipv6", "ipAddressType"),
        ("sslPolicy", "TLS-1-2", "sslPolicy"),
    ],
)
def test_bad_option_values_are_refused_naming_the_field(
    option: str, value: Any, named: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_with(**{option: value})
    assert named in caught.value.message


def test_certificate_arns_are_checked_by_pattern_partition_and_region() -> None:
    data = copy.deepcopy(GUIDE)
    data["route53"]["subDomain"]["certARN"] = CERT.replace("arn:aws:", "arn:aws-cn:")
    assert parse_spec(data).route53.sub_domain.cert_arn is not None  # other partitions are fine
    for bad in (
        "arn:aws:acm:us-west-2:123456789012:cert/x",
        CERT.replace("us-west-2", "us-east-1"),
    ):
        data["route53"]["subDomain"]["certARN"] = bad
        with pytest.raises(SpecError, match="subDomain.certARN"):
            parse_spec(data)


def test_options_render_as_the_controllers_annotations() -> None:
    notes = rendered(spec_with(**ALL_OPTIONS))["metadata"]["annotations"]
    assert notes[ALB_PREFIX + "ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert notes[ALB_PREFIX + "wafv2-acl-arn"] == WAF
    assert notes[ALB_PREFIX + "inbound-cidrs"] == "10.0.0.0/8,192.0.2.0/24,2001:db8::/32"
    assert notes[ALB_PREFIX + "ip-address-type"] == "dualstack"
    assert notes[ALB_PREFIX + "load-balancer-attributes"] == (
        "access_logs.s3.enabled=true,access_logs.s3.bucket=kubeflow-alb-logs,"
        "access_logs.s3.prefix=platform,routing.http.drop_invalid_header_fields.enabled=true,"
        "deletion_protection.enabled=true,routing.http.desync_mitigation_mode=defensive,"
        "idle_timeout.timeout_seconds=3600"
    )


def test_without_options_nothing_new_is_annotated() -> None:
    notes = rendered(spec_with())["metadata"]["annotations"]
    for name in ("wafv2-acl-arn", "inbound-cidrs", "ip-address-type"):
        assert ALB_PREFIX + name not in notes
    assert notes[ALB_PREFIX + "ssl-policy"] == DEFAULT_SSL_POLICY
    fields = desired_alb_fields(rendered(spec_with()), cluster="kubeflow")
    assert not {"ip-address-type", "waf-acl", "inbound-cidrs"} & set(fields)


def test_a_custom_ingress_keeps_its_own_ssl_policy_unless_the_option_is_set() -> None:
    custom = yaml.safe_load(BUNDLED.read_text())
    custom["metadata"]["annotations"][ALB_PREFIX + "ssl-policy"] = (
        "ELBSecurityPolicy-FS-1-2-2019-08"
    )
    kept = rendered(spec_with(), copy.deepcopy(custom))["metadata"]["annotations"]
    assert kept[ALB_PREFIX + "ssl-policy"] == "ELBSecurityPolicy-FS-1-2-2019-08"
    chosen = spec_with(sslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06")
    overridden = rendered(chosen, custom)["metadata"]["annotations"]
    assert overridden[ALB_PREFIX + "ssl-policy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"
    del custom["metadata"]["annotations"][ALB_PREFIX + "ssl-policy"]
    bare = rendered(spec_with(), custom)["metadata"]["annotations"]
    assert bare[ALB_PREFIX + "ssl-policy"] == DEFAULT_SSL_POLICY


def _balancer(**changes: Any) -> LoadBalancerState:
    fields: dict[str, Any] = {
        "arn": "arn:lb", "name": "k8s-x", "dns_name": "k8s-x.us-west-2.elb.amazonaws.com",
        "state": "active", "scheme": "internet-facing", "canonical_hosted_zone_id": "Z1H1FL5HABSF5",
        "ip_address_type": "dualstack", "waf_acl_arn": WAF,
        "inbound_cidrs": ("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"),
        "attributes": {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "kubeflow-alb-logs",
                       "access_logs.s3.prefix": "platform"},
    }  # fmt: skip
    fields.update(changes)
    return LoadBalancerState(**fields)


def _option_drift(state: LoadBalancerState) -> set[str]:
    wanted = desired_alb_fields(rendered(spec_with(**ALL_OPTIONS)), cluster="kubeflow")
    options = {key: value for key, value in wanted.items()
               if key in ("ip-address-type", "waf-acl", "inbound-cidrs") or "access_logs" in key}  # fmt: skip
    item = Item(Kind.LOAD_BALANCER, "alb", options)
    (change,) = plan([item], {(Kind.LOAD_BALANCER, "alb"): alb_fields(state)}).changes
    return {difference.field for difference in change.differences}


def test_each_option_is_an_alb_field_and_its_removal_is_drift() -> None:
    assert _option_drift(_balancer()) == set()
    assert _option_drift(_balancer(ip_address_type="ipv4")) == {"ip-address-type"}
    assert _option_drift(_balancer(waf_acl_arn=None)) == {"waf-acl"}
    assert _option_drift(_balancer(inbound_cidrs=("0.0.0.0/0",))) == {"inbound-cidrs"}
    no_logs = {
        "access_logs.s3.enabled": "false",
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
    }
    assert _option_drift(_balancer(attributes=no_logs)) == {
        "attribute access_logs.s3.enabled", "attribute access_logs.s3.bucket",
        "attribute access_logs.s3.prefix",
    }  # fmt: skip


def test_dualstack_adds_an_aaaa_alias_next_to_the_a_alias() -> None:
    balancer = _balancer()
    a, aaaa = dashboard_records(spec_with(ipAddressType="dualstack"), balancer)
    assert (a.type, aaaa.type) == ("A", "AAAA")
    assert a.alias == aaaa.alias
    assert a.name == aaaa.name == naming.wildcard("platform.example.com")
    assert [r.type for r in dashboard_records(spec_with(), balancer)] == ["A"]
    data = copy.deepcopy(GUIDE)
    data["kubeflow"]["alb"]["ipAddressType"] = "dualstack"
    data["stack"] = {"recordType": "cname"}  # a CNAME answers for both families
    assert [r.type for r in dashboard_records(parse_spec(data), balancer)] == ["CNAME"]
