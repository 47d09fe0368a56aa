"""The policy rules (pure): AWS Security Hub's ALB controls and kubeflow-alb's own, each a check
over the facts of the desired stack (core.policy.PolicyFacts) that names what is wrong."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

Severity = Literal["high", "medium", "low"]
#: The value of an empty list in the desired ALB's fields (core.alb_facts.NONE).
NONE = "none"
WORLD = ("0.0.0.0/0", "::/0")
_WRITE_LEVELS = ("Write", "Tagging", "Permissions management")
_TLS_MIN = re.compile(r"^ELBSecurityPolicy-(?:TLS13-|TLS-|FS-)1-(?P<minor>[0-3])-")


@cache
def data(name: str) -> dict[str, Any]:
    """A JSON data file shipped in core/ (security_hub_elb.json, iam_action_scopes.json)."""
    loaded: dict[str, Any] = json.loads(files("core").joinpath(name).read_text())
    return loaded


def security_hub() -> dict[str, Any]:
    return data("security_hub_elb.json")


@dataclass(frozen=True)
class Unchecked:
    """A rule that could not be checked: the facts it reads are not known (yet)."""

    reason: str


Verdict = str | Unchecked | None  # a problem, not checkable, or passed
Facts = Any  # core.policy.PolicyFacts (not imported: it imports this module)


@dataclass(frozen=True)
class Rule:
    """One rule: its id, severity and one-line why; `fix` names the setting that fixes it."""

    id: str
    title: str
    severity: Severity
    why: str
    fix: str
    check: Callable[[Facts], Verdict]
    #: False: shown in every plan, never stops apply (even with stack.policy mandatory).
    enforceable: bool = True


def attribute(facts: Facts, name: str) -> str:
    """A desired ALB attribute, or AWS's default when the Ingress does not set it."""
    found: str | None = facts.alb.get(f"attribute {name}")
    return found if found is not None else str(security_hub()["alb_attribute_defaults"][name])


def listeners(facts: Facts, protocol: str) -> Iterator[str] | Unchecked:
    raw = facts.alb.get("listeners")
    if raw is None:
        return Unchecked("the desired ALB's listeners are not known")
    keys = [key for key in raw.split(",") if key != NONE]
    return (key for key in keys if key.split(":")[0] == protocol)


def tls_minimum(policy: str) -> str:
    """The lowest TLS version a predefined ALB security policy accepts (by its name)."""
    found = _TLS_MIN.match(policy)
    return f"1.{found.group('minor')}" if found else "1.0"


def check_redirect(facts: Facts) -> Verdict:
    http = listeners(facts, "HTTP")
    if isinstance(http, Unchecked):
        return http
    forwarding = [
        f"HTTP listener {key.split(':')[1]} answers with {facts.alb.get(f'listener {key} action')!r}"
        for key in http
        if not str(facts.alb.get(f"listener {key} action", "")).startswith("redirect HTTPS")
    ]
    return "; ".join(forwarding) + ", not a redirect to HTTPS" if forwarding else None


def _policies(facts: Facts) -> dict[str, str] | Unchecked:
    https = listeners(facts, "HTTPS")
    if isinstance(https, Unchecked):
        return https
    found = {key: str(facts.alb.get(f"listener {key} ssl-policy", NONE)) for key in https}
    return found or Unchecked("the ALB has no HTTPS listener")


def check_recommended_policy(facts: Facts) -> Verdict:
    policies = _policies(facts)
    if isinstance(policies, Unchecked):
        return policies
    allowed = security_hub()["ELB.17 sslPolicies"]
    wrong = [f"{key} uses {policy}" for key, policy in policies.items() if policy not in allowed]
    return "; ".join(wrong) + " (not on ELB.17's list)" if wrong else None


def check_tls12(facts: Facts) -> Verdict:
    policies = _policies(facts)
    if isinstance(policies, Unchecked):
        return policies
    old = [
        f"{key} uses {policy} (TLS {tls_minimum(policy)} and newer)"
        for key, policy in policies.items()
        if tls_minimum(policy) < "1.2"
    ]
    return "; ".join(old) if old else None


def attribute_is(name: str, *wanted: str) -> Callable[[Facts], Verdict]:
    def check(facts: Facts) -> Verdict:
        if not facts.alb:
            return Unchecked("the desired ALB is not known")
        value = attribute(facts, name)
        return None if value in wanted else f"{name} is {value}"

    return check


def check_zones(facts: Facts) -> Verdict:
    if facts.zones is None:
        return Unchecked("the cluster's subnets are not known")
    least = int(security_hub()["ELB.13 minAvailabilityZones"])
    if len(facts.zones) >= least:
        return None
    kind = "public" if facts.scheme == "internet-facing" else "private"
    zones = ", ".join(facts.zones) or "none"
    return f"the cluster's {kind} subnets are in {len(facts.zones)} Availability Zone(s) ({zones})"


def check_restricted(facts: Facts) -> Verdict:
    if facts.scheme != "internet-facing":
        return None
    if not facts.alb:
        return Unchecked("the desired ALB is not known")
    waf = facts.alb.get("waf-acl")
    if waf and waf != NONE:
        return None
    cidrs = [c for c in facts.alb.get("inbound-cidrs", NONE).split(",") if c != NONE]
    if cidrs and not set(cidrs) & set(WORLD):
        return None
    return "internet-facing with no WAF web ACL and inbound CIDRs open to everyone"


def check_scoped_writes(facts: Facts) -> Verdict:
    document: Mapping[str, Any] | None = facts.controller_policy
    if document is None:
        return None  # the controller's IAM is not the stack's
    scopes = data("iam_action_scopes.json")["actions"]
    wide = sorted(
        {
            action
            for action in _unconditioned_star_actions(document)
            if scopes.get(action, {}).get("access_level") in _WRITE_LEVELS
            and scopes[action].get("resource_types")
        }
    )
    if not wide:
        return None
    shown = ", ".join(wide[:4]) + (f" and {len(wide) - 4} more" if len(wide) > 4 else "")
    return f"{len(wide)} write actions on Resource '*' with no condition accept ARNs: {shown}"


def _unconditioned_star_actions(document: Mapping[str, Any]) -> Iterator[str]:
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if statement.get("Effect") != "Allow" or "*" not in resources or statement.get("Condition"):
            continue
        actions = statement.get("Action", [])
        yield from [actions] if isinstance(actions, str) else actions
