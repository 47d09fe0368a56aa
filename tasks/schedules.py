"""The drift check's deployments of a stack: paused when the stack is cleaned up (their runs would
fail every hour on a stack that no longer exists)."""

from __future__ import annotations

from prefect import get_client, task
from prefect.client.schemas.filters import FlowFilter, FlowFilterName

from tasks.logs import run_logger

#: The flow whose deployments check one stack (the fleet check skips stacks that are gone).
DRIFT_FLOW = "drift-check"


@task(name="pause-drift-schedules")
def pause_drift_schedules(stack: str) -> tuple[str, ...]:
    """Pause every `drift-check` deployment whose `stack` parameter is this stack; return their
    names. Resume one (`prefect deployment resume`) after setting the stack up again."""
    paused = []
    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[DRIFT_FLOW]))
        )
        for deployment in found:
            if (deployment.parameters or {}).get("stack") != stack or deployment.paused:
                continue
            client.pause_deployment(deployment.id)
            paused.append(f"{DRIFT_FLOW}/{deployment.name}")
    if paused:
        run_logger().info(
            "Paused %s: stack %s is gone (resume after the next setup: prefect deployment "
            "resume NAME)", ", ".join(paused), stack,
        )  # fmt: skip
    return tuple(paused)
