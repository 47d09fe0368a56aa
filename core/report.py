"""Pure renderers for the flows' artifacts: summaries, resource tables, API call tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.resources import ApiCall, ApiCallCounts
from core.state import Kind, StackRecord
from core.version import package_version


def resource_rows(record: StackRecord) -> list[dict[str, str]]:
    """One row per resource: kind, created or adopted, last status, name, id. The long ids (ARNs)
    come last: a page narrower than the table cuts them, not the short facts."""
    return [
        {
            "kind": item.kind.value,
            "ownership": "created" if item.owned else "adopted",
            "status": item.status,
            "name": item.name,
            "id": item.id,
        }
        for item in record.resources
    ]


def stack_outputs(record: StackRecord) -> dict[str, str]:
    """The ids a setup run returns: the ALB's ARN and the subdomain zone's id."""
    balancer, zone = record.first(Kind.LOAD_BALANCER), record.first(Kind.HOSTED_ZONE)
    return {"load_balancer": balancer.id if balancer else "", "zone_id": zone.id if zone else ""}


def api_call_rows(calls: Iterable[ApiCall]) -> list[dict[str, str]]:
    """One row per service and operation, mutating calls first, then by count."""
    ordered = sorted(calls, key=lambda c: (not c.mutating, c.service, -c.count, c.operation))
    return [
        {
            "service": call.service,
            "operation": call.operation,
            "kind": "mutating" if call.mutating else "read",
            "calls": str(call.count),
        }
        for call in ordered
    ]


def markdown_table(rows: list[dict[str, str]]) -> str:
    """A GitHub-flavoured markdown table of rows (all rows share the first row's keys)."""
    if not rows:
        return "_none_"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = (str(row.get(h, "")).replace("|", "\\|").replace("\n", " ") for h in headers)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def setup_summary(
    record: StackRecord,
    *,
    dashboard_url: str,
    calls: ApiCallCounts,
    notes: Iterable[str] = (),
    version: str | None = None,
) -> str:
    """The setup run's summary in markdown, with the dashboard link first (and the version of
    kubeflow-alb that made it: default, the installed one)."""
    created = sum(1 for item in record.resources if item.owned)
    adopted = len(record.resources) - created
    lines = [
        f"# Kubeflow is served at [{dashboard_url}]({dashboard_url})",
        "",
        f"Stack **{record.stack}**: {created} resources created or kept by this stack, "
        f"{adopted} pre-existing adopted and left alone by cleanup.",
        f"AWS API calls in this run: {calls.mutating} mutating, {calls.reads} read.",
        f"Made by kubeflow-alb {version or package_version()}.",
    ]
    notes = list(notes)
    if notes:
        lines += ["", "## Notes", *(f"- {note}" for note in notes)]
    lines += ["", "## Resources", "", markdown_table(resource_rows(record))]
    return "\n".join(lines) + "\n"


def delegation_instructions(subdomain: str, name_servers: Iterable[str], root: str) -> str:
    """What to add at the root domain's DNS provider when the root is not in Route53."""
    records = "\n".join(f"{subdomain}.  300  IN  NS  {ns.rstrip('.')}." for ns in name_servers)
    return (
        f"The root domain {root} is not hosted in Route53 in this account. Add these NS records "
        f"for {subdomain} at the DNS provider of {root}; the flow waits until they are visible:\n\n"
        f"```\n{records}\n```\n"
    )


def leftovers_summary(stack: str, leftovers: Mapping[str, list[str]]) -> str:
    """Cleanup's leak report: what of the stack is still present (the goal: nothing)."""
    if not any(leftovers.values()):
        return f"# Stack {stack}: nothing left\n\nEvery resource owned by the stack is gone.\n"
    lines = [f"# Stack {stack}: resources left behind", ""]
    for kind, items in leftovers.items():
        for item in items:
            lines.append(f"- **{kind}** {item}")
    return "\n".join(lines) + "\n"
