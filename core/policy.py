"""Policy checks on every plan (pure): the rules of core.policy_rules over the desired stack,
with the stack's mode (advisory or mandatory) and its waivers. Mandatory findings stop setup and
remediation before any change (PolicyViolation: exit 2, naming the rule and the setting)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.alb_options import (
    DELETION_PROTECTION,
    DESYNC_MITIGATION_MODE,
    DROP_INVALID_HEADER_FIELDS,
    AttributeOption,
)
from core.errors import SpecError
from core.plan import Plan
from core.policy_rules import (
    Rule,
    Severity,
    Unchecked,
    Verdict,
    attribute_is,
    check_recommended_policy,
    check_redirect,
    check_restricted,
    check_scoped_writes,
    check_tls12,
    check_zones,
    security_hub,
)
from core.resources import SubnetState
from core.spec import StackSpec
from core.state import Kind

_RECOMMENDED_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"


def _option(option: AttributeOption[Any], value: str) -> str:
    """The setting of an ALB attribute: its option of the ALB option table."""
    return f"{option.setting}: {value}"


def _attribute_is(option: AttributeOption[Any], *wanted: str) -> Callable[[Any], Verdict]:
    """The check that the desired ALB's attribute of this option has one of these values."""
    return attribute_is(option.keys[0], *wanted)


def _hub(rule_id: str, why: str, fix: str, check: Any) -> Rule:
    control = security_hub()["controls"][rule_id]
    return Rule(rule_id, control["title"], control["severity"], why, fix, check)


RULES: tuple[Rule, ...] = (
    _hub(
        "ELB.1",
        "plain HTTP carries cookies and tokens in clear text; port 80 should only "
        "send clients to HTTPS",
        "the Ingress's alb.ingress.kubernetes.io/ssl-redirect: '443' (the bundled Ingress has it)",
        check_redirect,
    ),
    _hub(
        "ELB.4",
        "headers that are not valid HTTP are a request-smuggling vector",
        _option(DROP_INVALID_HEADER_FIELDS, "true"),
        _attribute_is(DROP_INVALID_HEADER_FIELDS, "true"),
    ),
    _hub(
        "ELB.5",
        "without access logs nobody can tell who reached Kubeflow, or when",
        "kubeflow.alb.accessLogs: {bucket: BUCKET, prefix: PREFIX}",
        attribute_is("access_logs.s3.enabled", "true"),
    ),
    _hub(
        "ELB.6",
        "a stray `kubectl delete ingress` would delete the ALB and its public name",
        _option(DELETION_PROTECTION, "true"),
        _attribute_is(DELETION_PROTECTION, "true"),
    ),
    _hub(
        "ELB.12",
        "monitor mode forwards ambiguous requests (HTTP desync) to the gateway",
        _option(DESYNC_MITIGATION_MODE, "defensive"),
        _attribute_is(DESYNC_MITIGATION_MODE, "defensive", "strictest"),
    ),
    _hub(
        "ELB.13",
        "an ALB in one Availability Zone goes down with that zone",
        "subnets of the cluster in a second Availability Zone, tagged kubernetes.io/role/elb "
        "(internet-facing) or kubernetes.io/role/internal-elb (internal)",
        check_zones,
    ),
    _hub(
        "ELB.17",
        "Security Hub accepts only its recommended TLS 1.2/1.3 policies on HTTPS listeners",
        f"kubeflow.alb.sslPolicy: {_RECOMMENDED_POLICY}",
        check_recommended_policy,
    ),
    Rule(
        "KFALB.1",
        "HTTPS listeners accept TLS 1.2 and newer only",
        "high",
        "TLS 1.0 and 1.1 are deprecated (RFC 8996) and open to downgrade attacks",
        f"kubeflow.alb.sslPolicy: {_RECOMMENDED_POLICY}",
        check_tls12,
    ),
    Rule(
        "KFALB.2",
        "An internet-facing ALB is restricted by a WAF web ACL or inbound CIDRs",
        "low",
        "Kubeflow's login page is then open to the whole internet (see also ELB.16)",
        "kubeflow.alb.wafAclArn, or kubeflow.alb.inboundCidrs",
        check_restricted,
        enforceable=False,
    ),
    Rule(
        "KFALB.3",
        "The controller's IAM policy scopes its writes where the actions allow it",
        "low",
        "writes on Resource '*' without a condition reach every such resource of the account",
        "stack.controller: skip, with a controller whose role has a policy you "
        "scoped (the bundled policy is the controller project's, kept as published)",
        check_scoped_writes,
    ),
)


@dataclass(frozen=True)
class PolicyFacts:
    """What the rules read about the desired stack (build it with `policy_facts`)."""

    scheme: str
    #: The desired ALB's declared fields (core.alb.facts_fields); empty when not known.
    alb: Mapping[str, str]
    #: Availability Zones of the subnets the controller places the ALB in; None: not known.
    zones: tuple[str, ...] | None = None
    #: The IAM policy document the stack gives the controller; None: the IAM is not the stack's.
    controller_policy: Mapping[str, Any] | None = None


def policy_facts(
    spec: StackSpec,
    result: Plan,
    *,
    subnets: Iterable[SubnetState] | None,
    controller_policy: Mapping[str, Any] | None = None,
) -> PolicyFacts:
    """The adapter from a plan to the rules: the desired ALB item's fields, the zones of the
    subnets its scheme uses, and the controller policy when the plan holds the stack's."""
    alb: Mapping[str, str] = {}
    holds_policy = False
    for change in result.changes:
        if change.item.kind is Kind.LOAD_BALANCER and "listeners" in change.item.fields:
            alb = change.item.fields
        holds_policy |= change.item.kind is Kind.IAM_POLICY
    scheme = spec.kubeflow.alb.scheme
    public = scheme == "internet-facing"
    zones = (
        None
        if subnets is None
        else tuple(
            sorted(
                {s.availability_zone for s in subnets if s.public == public and s.availability_zone}
            )
        )
    )
    return PolicyFacts(
        scheme=scheme,
        alb=alb,
        zones=zones,
        controller_policy=controller_policy if holds_policy else None,
    )


@dataclass(frozen=True)
class Finding:
    """A rule the desired stack breaks (or could not be checked against)."""

    rule: str
    title: str
    severity: Severity
    why: str
    problem: str
    fix: str
    waived: str | None = None  # the waiver's reason
    blocking: bool = False  # stops apply (mandatory, enforceable, not waived)
    unchecked: bool = False


@dataclass(frozen=True)
class PolicyReport:
    """The findings of one plan, under the stack's mode."""

    mode: str
    findings: tuple[Finding, ...]
    passed: tuple[str, ...]

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.blocking)

    def summary(self) -> str:
        """`policy (advisory): 2 findings, 1 waived, 7 passed`."""
        open_ = [f for f in self.findings if not f.waived and not f.unchecked]
        parts = [f"{len(open_)} finding{'s' if len(open_) != 1 else ''}"]
        waived = sum(1 for f in self.findings if f.waived)
        unchecked = sum(1 for f in self.findings if f.unchecked)
        parts += [f"{waived} waived"] if waived else []
        parts += [f"{unchecked} not checked"] if unchecked else []
        return f"policy ({self.mode}): {', '.join(parts + [f'{len(self.passed)} passed'])}"


def check_policy(spec: StackSpec, facts: PolicyFacts) -> PolicyReport:
    """Every rule over the facts; waivers and the mode decide what blocks."""
    waivers = {waiver.id: waiver.reason for waiver in spec.stack.policy_waivers}
    mandatory = spec.stack.policy == "mandatory"
    findings, passed = [], []
    for rule in RULES:
        verdict = rule.check(facts)
        if verdict is None:
            passed.append(rule.id)
            continue
        unchecked = isinstance(verdict, Unchecked)
        problem = verdict if isinstance(verdict, str) else verdict.reason
        waived = waivers.get(rule.id)
        blocking = mandatory and rule.enforceable and waived is None and not unchecked
        findings.append(
            Finding(
                rule.id,
                rule.title,
                rule.severity,
                rule.why,
                problem,
                rule.fix,
                waived,
                blocking,
                unchecked,
            )
        )
    return PolicyReport(spec.stack.policy, tuple(findings), tuple(passed))


class PolicyViolation(SpecError):
    """A mandatory policy finding: the spec must change (or waive the rule) before apply."""


def enforce(report: PolicyReport, stack: str) -> None:
    """Raise PolicyViolation naming each blocking rule and the setting that fixes it."""
    blocking = report.blocking
    if not blocking:
        return
    lines = [f"{f.rule} ({f.severity}): {f.problem}. Fix: {f.fix}" for f in blocking]
    raise PolicyViolation(
        f"Stack {stack}: stack.policy is mandatory and {len(blocking)} rule(s) fail; nothing was "
        "changed.\n  " + "\n  ".join(lines) + "\n  Or waive a rule: stack.policyWaivers: "
        f"[{{id: {blocking[0].rule}, reason: ...}}]"
    )
