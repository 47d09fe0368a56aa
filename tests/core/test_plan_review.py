"""The plan's review: a digest stable across runs that changes with the plan or the spec, the
approval gate (stale plan, mandatory findings), the plan file and its renderings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import SpecError, StalePlan
from core.plan import Item, Plan, plan
from core.plan_output import to_json
from core.plan_review import (
    approved_digest,
    gate,
    plan_digest,
    plan_file,
    review_lines,
    review_markdown,
    review_plan,
)
from core.policy import PolicyFacts, PolicyViolation
from core.spec import StackSpec, parse_spec
from core.state import Kind

ZONE = Item(Kind.HOSTED_ZONE, "platform.example.com", {"public": "yes"})
RECORD = Item(Kind.DNS_RECORD, "*.platform.example.com", {"type": "A", "target": "alb-1.elb"})


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


def a_plan(record_found: dict[str, str] | None = None) -> Plan:
    found = {(Kind.HOSTED_ZONE, ZONE.key): {"public": "yes"}}
    if record_found is not None:
        found[(Kind.DNS_RECORD, RECORD.key)] = record_found
    return plan([ZONE, RECORD], found)


def unknown_facts() -> PolicyFacts:
    return PolicyFacts(scheme="internet-facing", alb={}, zones=None)


def test_the_digest_is_stable_and_follows_the_changes_and_the_spec() -> None:
    first = plan_digest(spec(), a_plan())
    assert first.startswith("sha256:")
    assert len(first) == len("sha256:") + 64
    assert plan_digest(spec(), a_plan()) == first  # the same plan made again
    # Another world: the record exists but points elsewhere -> another change, another digest.
    other = plan_digest(spec(), a_plan({"type": "A", "target": "alb-2.elb"}))
    assert other != first
    assert plan_digest(spec(), a_plan({"type": "A", "target": "alb-2.elb"})) == other
    # The same changes from another spec are another plan.
    assert plan_digest(spec(tags={"team": "ml"}), a_plan()) != first
    # Items in place are not changes: a converged world has one digest whatever else is kept.
    converged = a_plan({"type": "A", "target": "alb-1.elb"})
    more_kept = plan([ZONE, RECORD, Item(Kind.SUBNET_TAG, "s k")],
                     {(Kind.HOSTED_ZONE, ZONE.key): {"public": "yes"},
                      (Kind.DNS_RECORD, RECORD.key): {"type": "A", "target": "alb-1.elb"},
                      (Kind.SUBNET_TAG, "s k"): {}})  # fmt: skip
    assert plan_digest(spec(), converged) == plan_digest(spec(), more_kept)


def test_gate_refuses_a_stale_plan_before_policy() -> None:
    review = review_plan(spec(), a_plan(), unknown_facts())
    gate(review, approved=None)
    gate(review, approved=review.digest)
    stale = plan_digest(spec(), a_plan({"type": "A", "target": "alb-2.elb"}))
    with pytest.raises(StalePlan, match="the plan is stale") as raised:
        gate(review, approved=stale)
    assert "Nothing was applied" in str(raised.value)
    assert stale.removeprefix("sha256:")[:12] in str(raised.value)


def test_gate_stops_on_a_mandatory_finding() -> None:
    facts = PolicyFacts(
        scheme="internet-facing",
        alb={
            "listeners": "HTTPS:443",
            "listener HTTPS:443 ssl-policy": "ELBSecurityPolicy-2016-08",
        },
        zones=("a", "b"),
    )
    gate(review_plan(spec(), a_plan(), facts), approved=None)  # advisory
    review = review_plan(spec(policy="mandatory"), a_plan(), facts)
    with pytest.raises(PolicyViolation, match="ELB.17"):
        gate(review, approved=review.digest)


def test_the_plan_file_carries_digest_findings_cost_and_spec() -> None:
    waived = spec(policyWaivers=[{"id": "ELB.13", "reason": "one AZ in the lab"}])
    facts = PolicyFacts(scheme="internet-facing", alb={}, zones=("us-west-2a",))
    review = review_plan(waived, a_plan(), facts)
    document = json.loads(to_json(plan_file(waived, a_plan(), review)))
    assert document["command"] == "plan"
    assert document["digest"] == review.digest
    assert document["spec"]["cluster"]["name"] == "kubeflow"
    findings = {f["rule"]: f for f in document["policy"]["findings"]}
    assert findings["ELB.13"]["status"] == "waived"
    assert findings["ELB.13"]["waived"] == "one AZ in the lab"
    assert findings["ELB.1"]["status"] == "not checked"
    assert findings["ELB.1"]["problem"] == "the desired ALB's listeners are not known"
    assert document["cost"]["monthly"] == review.cost.monthly
    assert document["cost"]["prices_of"] == "2026-12-07"
    # The saved plan reads back as this stack's plan, and its digest is the approval.
    assert approved_digest(document, waived) == (waived, review.digest)
    assert approved_digest(document, None) == (waived, review.digest)


def test_a_saved_plan_of_another_file_stack_or_spec_is_refused() -> None:
    review = review_plan(spec(), a_plan(), unknown_facts())
    document = plan_file(spec(), a_plan(), review)
    with pytest.raises(SpecError, match="not a plan file"):
        approved_digest({"command": "drift"}, spec())
    with pytest.raises(SpecError, match="no digest"):
        approved_digest({**document, "digest": None}, spec())
    with pytest.raises(SpecError, match="format_version"):
        approved_digest({**document, "format_version": 99}, spec())
    with pytest.raises(SpecError, match="of stack platform-example-com, not of other"):
        approved_digest(document, spec(name="other"))
    with pytest.raises(StalePlan, match="another spec"):
        approved_digest(document, spec(tags={"team": "ml"}))


def test_the_terminal_lines_and_the_artifact_show_findings_waivers_and_cost() -> None:
    waived = spec(policy="mandatory", policyWaivers=[{"id": "ELB.13", "reason": "one AZ lab"}])
    facts = PolicyFacts(scheme="internet-facing", alb={}, zones=("us-west-2a",))
    review = review_plan(waived, a_plan(), facts)
    text = "\n".join(review_lines(review))
    assert "Policy (mandatory): 0 findings, 1 waived, 8 not checked, 1 passed:" in text
    assert "waived: one AZ lab" in text
    assert "Cost: about 30.07 USD/month in us-west-2" in text
    assert f"Plan digest: {review.digest}" in text
    markdown = review_markdown(review, summary="2 to create, 0 to change, 0 in place")
    assert "| ELB.13 | medium | waived |" in markdown
    assert f"Digest: `{review.digest}`" in markdown
    assert "- public IPv4: 7.30 USD (2 x 730 h x 0.005)" in markdown
    assert "Route53 queries" in markdown
