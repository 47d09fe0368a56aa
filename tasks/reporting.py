"""Publishing the runs' artifacts (rendering is pure, in core.report)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.sorting import ArtifactSort
from prefect.context import FlowRunContext
from prefect.settings import get_current_settings

from core.plan import Plan
from core.plan_output import changes_markdown, table_rows
from core.report import api_call_rows, markdown_table, resource_rows
from core.resources import ApiCallCounts
from core.state import StackRecord
from tasks.prefect_api import prefect_client


def artifact_key(stack: str, what: str) -> str:
    """Artifact keys allow lower-case letters, digits and dashes only."""
    return f"{stack}-{what}".lower().replace(".", "-").replace("_", "-")


def artifact_links(stack: str, whats: Sequence[str]) -> list[tuple[str, str | None]]:
    """This run's latest artifacts `<stack>-<what>`, each with its page in the Prefect UI (None
    when the run has no such artifact, or no UI address is known): the links a reviewer
    follows from the approval form."""
    keys = [artifact_key(stack, what) for what in whats]
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return [(key, None) for key in keys]
    with prefect_client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=keys),
                flow_run_id=ArtifactFilterFlowRunId(any_=[context.flow_run.id]),
            ),
            sort=ArtifactSort.CREATED_DESC,
        )
    ui = get_current_settings().ui_url  # Prefect's url_for knows no artifact page: its route
    latest: dict[str, str | None] = {}
    for artifact in found:  # newest first: a re-run's plan replaces the one before it
        if artifact.key is not None and artifact.key not in latest:
            latest[artifact.key] = (
                f"{ui.rstrip('/')}/artifacts/artifact/{artifact.id}" if ui else None
            )
    return [(key, latest.get(key)) for key in keys]


def publish_resources(record: StackRecord) -> None:
    """The table of the stack's resources (kind, id, name, created/adopted, status)."""
    rows = resource_rows(record)
    create_table_artifact(
        key=artifact_key(record.stack, "resources"),
        table=rows,
        description=f"Resources of stack {record.stack}",
    )


def publish_api_calls(stack: str, calls: ApiCallCounts) -> None:
    """The table of AWS API calls this run made, per service and operation."""
    rows = api_call_rows(calls.calls)
    create_table_artifact(
        key=artifact_key(stack, "aws-api-calls"),
        table=rows or [{"service": "-", "operation": "-", "kind": "-", "calls": "0"}],
        description=(f"AWS API calls of this run: {calls.mutating} mutating, {calls.reads} read"),
    )


def publish_markdown(stack: str, what: str, markdown: str, description: str) -> None:
    create_markdown_artifact(
        key=artifact_key(stack, what), markdown=markdown, description=description
    )


def publish_link(stack: str, url: str) -> None:
    create_link_artifact(
        key=artifact_key(stack, "dashboard"),
        link=url,
        link_text=url,  # the UI shows only the text: the address itself, not a label hiding it
        description=f"The Kubeflow dashboard of stack {stack}",
    )


def repair_hint(stack: str) -> str:
    """How to re-apply a stack's drift, from a shell or as a deployment run."""
    return (
        f"repair it with `kfalb drift --stack {stack} --remediate` (a deployment run: "
        "remediate=true) or re-run setup."
    )


def publish_drift(stack: str, result: Plan, what: str) -> None:
    """The drift check's artifacts: the table of every item (drifted first, short cells) and,
    beside it, the drifted items with what differs in full (markdown wraps where a table clips)."""
    drifted = len(result.drift)
    publish_table(
        stack,
        "drift",
        table_rows(result),
        f"{what} of stack {stack}: {drifted} of {len(result.changes)} items drifted "
        f"(drifted items first; full values in {artifact_key(stack, 'drift-changes')})",
    )
    repair = "Nothing to repair." if result.converged else repair_hint(stack).capitalize()
    publish_markdown(
        stack,
        "drift-changes",
        changes_markdown(stack, result, repair=repair),
        f"{what} of stack {stack}: what drifted, in full",
    )


def publish_table(stack: str, what: str, rows: Iterable[dict[str, str]], description: str) -> str:
    """A table artifact; returns the same table as markdown for logs and summaries."""
    rows = list(rows)
    create_table_artifact(
        key=artifact_key(stack, what),
        table=rows,
        description=description,
    )
    return markdown_table(rows)
