"""The plan as a document to review (pure): its digest, policy findings and cost line, the
approval check (a stale plan applies nothing) and the plan file `kfalb plan --out` writes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.cost import CostEstimate, cost_document, estimate
from core.errors import SpecError, StalePlan
from core.plan import Plan
from core.plan_output import FORMAT_VERSION, change_document, plan_document
from core.policy import PolicyFacts, PolicyReport, check_policy, enforce
from core.spec import StackSpec, parse_spec

DIGEST_PREFIX = "sha256:"


def plan_digest(spec: StackSpec, result: Plan) -> str:
    """A stable hash of the planned changes (created or changed items, with what differs) and
    of the spec they came from: equal plans of the same spec have equal digests."""
    body = {
        "stack": spec.name,
        "spec": spec.model_dump(mode="json", by_alias=True),
        "changes": [change_document(change) for change in result.changes if change.drifted],
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return DIGEST_PREFIX + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PlanReview:
    """What a reviewer needs beside the plan's items: its digest, the findings, the cost."""

    stack: str
    digest: str
    policy: PolicyReport
    cost: CostEstimate


def review_plan(spec: StackSpec, result: Plan, facts: PolicyFacts) -> PlanReview:
    """The plan's digest, policy findings and cost estimate."""
    zones = None if facts.zones is None else len(facts.zones)
    return PlanReview(
        stack=spec.name,
        digest=plan_digest(spec, result),
        policy=check_policy(spec, facts),
        cost=estimate(spec, zones=zones),
    )


def gate(review: PlanReview, *, approved: str | None) -> None:
    """Before anything is applied: a plan that is not the approved one (StalePlan), then the
    mandatory policy findings (core.policy.PolicyViolation)."""
    if approved is not None and approved != review.digest:
        raise StalePlan(
            f"Stack {review.stack}: the plan is stale: the world or the spec changed since plan "
            f"{short_digest(approved)} was made; now it is {short_digest(review.digest)}. Nothing was "
            "applied. Plan again (`kfalb plan --out plan.json`), review it, and apply that."
        )
    enforce(review.policy, review.stack)


def short_digest(digest: str) -> str:
    """A plan's digest as people read it: its first 12 hex digits."""
    return digest.removeprefix(DIGEST_PREFIX)[:12]


def review_document(review: PlanReview) -> dict[str, Any]:
    """The review's part of the JSON plan: digest, policy findings, cost."""
    policy = review.policy
    return {
        "digest": review.digest,
        "policy": {
            "mode": policy.mode,
            "summary": policy.summary(),
            "passed": list(policy.passed),
            "findings": [
                {
                    "rule": f.rule,
                    "title": f.title,
                    "severity": f.severity,
                    "why": f.why,
                    "problem": f.problem,
                    "fix": f.fix,
                    "status": _status(f.waived, f.blocking, f.unchecked),
                    **({"waived": f.waived} if f.waived else {}),
                }
                for f in policy.findings
            ],
        },
        "cost": cost_document(review.cost),
    }


def _status(waived: str | None, blocking: bool, unchecked: bool) -> str:
    if waived:
        return "waived"
    if unchecked:
        return "not checked"
    return "blocks apply" if blocking else "advisory"


def review_lines(review: PlanReview) -> list[str]:
    """The terminal's lines after the plan table: findings (waived ones with their reason),
    then the cost line and the digest."""
    lines = [f"{_upper(review.policy.summary())}:"]
    for f in review.policy.findings:
        state = _status(f.waived, f.blocking, f.unchecked)
        lines.append(f"  {f.rule:<8} {f.severity:<6} {state}: {f.problem}")
        lines.append(f"           {'waived: ' + f.waived if f.waived else 'fix: ' + f.fix}")
    lines.append(_upper(review.cost.line()))
    lines.append(f"Plan digest: {review.digest}")
    return lines


def review_markdown(review: PlanReview, *, summary: str) -> str:
    """The plan review artifact: summary, digest, findings table, cost."""
    rows = [
        f"| {f.rule} | {f.severity} | {_status(f.waived, f.blocking, f.unchecked)} | "
        f"{_cell(f.problem)} | {_cell('waived: ' + f.waived if f.waived else f.fix)} |"
        for f in review.policy.findings
    ]
    table = [
        "| rule | severity | status | problem | fix / waiver |",
        "|---|---|---|---|---|",
        *rows,
    ]
    cost = review.cost
    cost_rows = [f"- {i.what}: {i.monthly:.2f} {cost.currency} ({i.quantity})" for i in cost.items]
    return "\n".join(
        [
            f"## Plan of stack {review.stack}",
            "",
            f"{summary}.",
            "",
            f"Digest: `{review.digest}`",
            "",
            f"### {_upper(review.policy.summary())}",
            "",
            *(table if rows else ["Every rule passed."]),
            f"\nPassed: {', '.join(review.policy.passed) or 'none'}.",
            "",
            "### Cost",
            "",
            _upper(cost.line()) + ".",
            *cost_rows,
            *[f"- {note}" for note in cost.notes],
        ]
    )


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_file(
    spec: StackSpec, result: Plan, review: PlanReview, *, command: str = "plan"
) -> dict[str, Any]:
    """The JSON plan (`kfalb plan --output json`, and the file `--out` saves): the items, the
    digest, the policy findings, the cost, and the spec the plan was made from."""
    document = plan_document(spec.name, result, command=command)
    return {
        **document,
        **review_document(review),
        "spec": spec.model_dump(mode="json", by_alias=True),
    }


def approved_digest(document: Any, spec: StackSpec | None) -> tuple[StackSpec, str]:
    """The spec and digest of a saved plan, checked to be a plan of this stack: a file that is
    not a plan, or a plan of another stack, is a SpecError (exit 2); a plan of another spec of
    the same stack is stale (StalePlan)."""
    if not isinstance(document, dict) or document.get("command") != "plan":
        raise SpecError("--plan: not a plan file (make one with `kfalb plan --out FILE`)")
    if document.get("format_version") != FORMAT_VERSION:
        raise SpecError(
            f"--plan: format_version {document.get('format_version')!r}; this "
            f"kfalb reads {FORMAT_VERSION}: plan again with it"
        )
    digest = document.get("digest")
    if not isinstance(digest, str) or not digest.startswith(DIGEST_PREFIX):
        raise SpecError("--plan: the plan has no digest; plan again with `kfalb plan --out`")
    planned = parse_spec(document.get("spec"))
    if spec is None:
        return planned, digest
    if planned.name != spec.name:
        raise SpecError(f"--plan: the plan is of stack {planned.name}, not of {spec.name}")
    if planned != spec:
        raise StalePlan(
            f"Stack {spec.name}: the plan is stale: it was made from another spec than --config "
            "gives now. Nothing was applied. Plan again with this config and apply that plan."
        )
    return spec, digest
