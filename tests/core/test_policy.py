"""Policy rules over the desired stack: each rule passes and fails on the facts it reads, waivers
and the mode decide what blocks, and the adapter reads the desired ALB item of a plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.alb_facts import AlbFacts, ListenerFacts, facts_fields
from core.alb_options import desired_fields
from core.errors import SpecError
from core.plan import Item, plan
from core.policy import RULES, PolicyFacts, PolicyViolation, check_policy, enforce, policy_facts
from core.policy_rules import data, tls_minimum
from core.policy_spec import RULE_IDS
from core.resources import SubnetState
from core.spec import StackSpec, parse_spec
from core.state import Kind

ROOT = Path(__file__).resolve().parents[2]
GOOD_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
SECURE = {
    "routing.http.drop_invalid_header_fields.enabled": "true",
    "access_logs.s3.enabled": "true",
    "deletion_protection.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
}


def spec(**stack: Any) -> StackSpec:
    return parse_spec(
        {
            "cluster": {"name": "kubeflow", "region": "us-west-2"},
            "route53": {
                "rootDomain": {"name": "example.com"},
                "subDomain": {"name": "platform.example.com"},
            },
            "stack": stack,
        }
    )


def alb(
    *,
    scheme: str = "internet-facing",
    ssl_policy: str = GOOD_POLICY,
    http_action: str = "redirect HTTPS:443 HTTP_301",
    attributes: dict[str, str] | None = None,
    waf: str | None = "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/k/1",
    cidrs: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """The desired ALB's fields, made by core.alb_facts as the planner sees them."""
    listeners = (
        ListenerFacts("HTTP", 80, action=http_action, rules=None),
        ListenerFacts("HTTPS", 443, certificate="arn:aws:acm:cert", ssl_policy=ssl_policy),
    )
    notes = {
        "load-balancer-attributes": ",".join(
            f"{k}={v}" for k, v in (SECURE if attributes is None else attributes).items()
        )
    }
    if waf is not None:
        notes["wafv2-acl-arn"] = waf
    if cidrs is not None:
        notes["inbound-cidrs"] = ",".join(cidrs)
    facts = AlbFacts(scheme=scheme, listeners=listeners, target_group=None,
                     options=desired_fields(notes, where="test"))  # fmt: skip
    return facts_fields(facts)


def facts(**overrides: Any) -> PolicyFacts:
    fields = {"scheme": "internet-facing", "alb": alb(), "zones": ("us-west-2a", "us-west-2b")}
    return PolicyFacts(**{**fields, **overrides})


def verdict(rule_id: str, given: PolicyFacts) -> Any:
    (rule,) = [rule for rule in RULES if rule.id == rule_id]
    return rule.check(given)


def test_the_spec_knows_every_rule_id() -> None:
    assert tuple(rule.id for rule in RULES) == RULE_IDS


def test_a_secure_desired_stack_passes_every_rule() -> None:
    report = check_policy(spec(), facts())
    assert report.findings == ()
    assert report.passed == RULE_IDS
    assert report.summary() == f"policy (advisory): 0 findings, {len(RULE_IDS)} passed"


@pytest.mark.parametrize(
    ("rule_id", "bad", "problem"),
    [
        ("ELB.1", {"alb": alb(http_action="fixed-response 404 text/plain")}, "not a redirect"),
        ("ELB.4", {"alb": alb(attributes={**SECURE, "routing.http.drop_invalid_header_fields.enabled": "false"})},
         "drop_invalid_header_fields.enabled is false"),
        ("ELB.5", {"alb": alb(attributes={k: v for k, v in SECURE.items() if "access" not in k})},
         "access_logs.s3.enabled is false"),  # absent: AWS's default, off
        ("ELB.6", {"alb": alb(attributes={k: v for k, v in SECURE.items() if "deletion" not in k})},
         "deletion_protection.enabled is false"),
        ("ELB.12", {"alb": alb(attributes={**SECURE, "routing.http.desync_mitigation_mode": "monitor"})},
         "desync_mitigation_mode is monitor"),
        ("ELB.13", {"zones": ("us-west-2a",)}, "1 Availability Zone(s) (us-west-2a)"),
        ("ELB.17", {"alb": alb(ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")},
         "HTTPS:443 uses ELBSecurityPolicy-TLS13-1-2-2021-06 (not on ELB.17's list)"),
        ("KFALB.1", {"alb": alb(ssl_policy="ELBSecurityPolicy-2016-08")}, "TLS 1.0 and newer"),
        ("KFALB.2", {"alb": alb(waf=None)}, "open to everyone"),
    ],
)  # fmt: skip
def test_each_rule_fails_on_its_fact(rule_id: str, bad: dict[str, Any], problem: str) -> None:
    assert verdict(rule_id, facts()) is None
    found = verdict(rule_id, facts(**bad))
    assert isinstance(found, str)
    assert problem in found
    report = check_policy(spec(), facts(**bad))
    also = {"KFALB.1": ["ELB.17"]}.get(rule_id, [])  # a TLS 1.0 policy is not on ELB.17's list
    assert sorted(f.rule for f in report.findings) == sorted([rule_id, *also])


def test_tls_1_2_policies_pass_kfalb_1_but_only_the_listed_ones_pass_elb_17() -> None:
    older = facts(alb=alb(ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06"))
    assert verdict("KFALB.1", older) is None
    assert verdict("ELB.17", older) is not None
    for name in data("security_hub_elb.json")["ELB.17 sslPolicies"]:
        assert verdict("ELB.17", facts(alb=alb(ssl_policy=name))) is None
        assert tls_minimum(name) >= "1.2"
    assert tls_minimum("ELBSecurityPolicy-TLS-1-1-2017-01") == "1.1"
    assert tls_minimum("ELBSecurityPolicy-FS-1-2-Res-2020-10") == "1.2"
    assert tls_minimum("ELBSecurityPolicy-TLS13-1-3-2021-06") == "1.3"
    assert tls_minimum("ELBSecurityPolicy-FS-2018-06") == "1.0"


def test_desync_default_passes_and_strictest_passes() -> None:
    absent = {k: v for k, v in SECURE.items() if "desync" not in k}
    assert verdict("ELB.12", facts(alb=alb(attributes=absent))) is None  # AWS default: defensive
    strictest = {**SECURE, "routing.http.desync_mitigation_mode": "strictest"}
    assert verdict("ELB.12", facts(alb=alb(attributes=strictest))) is None


def test_restriction_by_cidrs_internal_alb_and_open_cidrs() -> None:
    assert verdict("KFALB.2", facts(alb=alb(waf=None, cidrs=("10.0.0.0/8",)))) is None
    assert verdict("KFALB.2", facts(alb=alb(waf=None, cidrs=("10.0.0.0/8", "0.0.0.0/0"))))
    assert (
        verdict("KFALB.2", facts(scheme="internal", alb=alb(scheme="internal", waf=None))) is None
    )


def test_unknown_facts_are_reported_as_not_checked_and_never_block() -> None:
    report = check_policy(spec(policy="mandatory"), facts(alb={}, zones=None))
    unchecked = {f.rule for f in report.findings if f.unchecked}
    assert unchecked == set(RULE_IDS) - {"KFALB.3"}  # no controller policy: not the stack's
    assert report.blocking == ()
    assert "9 not checked" in report.summary()


def test_the_bundled_controller_policy_has_scopable_star_writes() -> None:
    document = json.loads(
        (ROOT / "deployments/aws-load-balancer-controller/v3.5.0/iam-policy.json").read_text()
    )
    found = verdict("KFALB.3", facts(controller_policy=document))
    assert isinstance(found, str)
    assert "write actions on Resource '*' with no condition accept ARNs" in found
    assert "ec2:CreateSecurityGroup" in found  # accepts security-group and vpc ARNs
    # A statement with a condition is scoped (the bundled tag conditions), an action that takes
    # only "*" cannot be scoped (SetWebAcl), reads are not writes.
    scoped = {"Statement": [
        {"Effect": "Allow", "Action": ["elasticloadbalancing:DeleteLoadBalancer"], "Resource": "*",
         "Condition": {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Action": "elasticloadbalancing:SetWebAcl", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"],
         "Resource": "arn:aws:ec2:*:*:security-group/*"},
    ]}  # fmt: skip
    assert verdict("KFALB.3", facts(controller_policy=scoped)) is None
    assert verdict("KFALB.3", facts(controller_policy=None)) is None  # not the stack's IAM


def test_the_action_scope_data_covers_every_bundled_policy_action() -> None:
    scopes = data("iam_action_scopes.json")["actions"]
    for path in (ROOT / "deployments/aws-load-balancer-controller").glob("*/iam-policy.json"):
        for statement in json.loads(path.read_text())["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert action in scopes, f"{action} of {path}: run scripts/iam_action_scopes.py"


def test_mandatory_findings_block_naming_the_rule_and_the_setting() -> None:
    bad = facts(alb=alb(ssl_policy="ELBSecurityPolicy-2016-08", waf=None))
    advisory = check_policy(spec(), bad)
    assert {f.rule for f in advisory.findings} == {"ELB.17", "KFALB.1", "KFALB.2"}
    assert advisory.blocking == ()
    enforce(advisory, "s")  # advisory: nothing stops

    mandatory = check_policy(spec(policy="mandatory"), bad)
    assert {f.rule for f in mandatory.blocking} == {"ELB.17", "KFALB.1"}  # KFALB.2: advisory only
    with pytest.raises(PolicyViolation) as raised:
        enforce(mandatory, "s")
    assert isinstance(raised.value, SpecError)  # exit 2
    message = str(raised.value)
    assert "ELB.17" in message
    assert "kubeflow.alb.sslPolicy: ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" in message
    assert "KFALB.2" not in message


def test_a_waived_rule_shows_with_its_reason_and_does_not_block() -> None:
    waived = spec(policy="mandatory", policyWaivers=[
        {"id": "elb.17", "reason": "an old client needs TLS13-1-2-2021-06"}])  # fmt: skip
    report = check_policy(waived, facts(alb=alb(ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06")))
    (finding,) = report.findings
    assert finding.rule == "ELB.17"
    assert finding.waived == "an old client needs TLS13-1-2-2021-06"
    assert not finding.blocking
    assert (
        report.summary() == f"policy (mandatory): 0 findings, 1 waived, {len(RULE_IDS) - 1} passed"
    )


def test_waivers_of_unknown_or_repeated_rules_are_bad_input() -> None:
    with pytest.raises(SpecError, match="'ELB.99' is not a policy rule id"):
        spec(policyWaivers=[{"id": "ELB.99", "reason": "x"}])
    with pytest.raises(SpecError, match="waive ELB.5 once"):
        spec(policyWaivers=[{"id": "ELB.5", "reason": "a"}, {"id": "ELB.5", "reason": "b"}])
    with pytest.raises(SpecError, match="reason: .*empty"):
        spec(policyWaivers=[{"id": "ELB.5", "reason": "  "}])
    with pytest.raises(SpecError, match="stack.policy"):
        spec(policy="strict")


def test_the_adapter_reads_the_desired_alb_item_and_the_scheme_s_subnets() -> None:
    desired = [
        Item(Kind.IAM_POLICY, "p", {"document": "the v3.5.0 document"}),
        Item(
            Kind.LOAD_BALANCER, "ALB of Ingress istio-system/istio-ingress", alb(attributes={})
        ),  # fmt: skip
    ]
    subnets = [
        SubnetState(subnet_id="s1", vpc_id="v", public=True, availability_zone="us-west-2a"),
        SubnetState(subnet_id="s2", vpc_id="v", public=True, availability_zone="us-west-2a"),
        SubnetState(subnet_id="s3", vpc_id="v", public=False, availability_zone="us-west-2b"),
    ]
    document = {"Statement": []}
    found = policy_facts(spec(), plan(desired, {}), subnets=subnets, controller_policy=document)
    assert found.alb["listeners"] == "HTTP:80,HTTPS:443"
    assert found.zones == ("us-west-2a",)  # internet-facing: the public subnets' zones
    assert found.controller_policy is document
    report = check_policy(spec(), found)
    assert {f.rule for f in report.findings} == {"ELB.4", "ELB.5", "ELB.6", "ELB.13"}

    no_iam = policy_facts(spec(), plan(desired[1:], {}), subnets=None, controller_policy=document)
    assert no_iam.controller_policy is None  # the controller's IAM is not this stack's
    assert no_iam.zones is None
