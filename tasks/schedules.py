"""The drift check's deployments of a stack: paused when the stack is cleaned up (their runs would
fail every hour on a stack that no longer exists), resumed by its next setup.

Cleanup notes what it paused in a Prefect Variable `kfalb-paused-drift-<stack>`, so setup resumes
exactly those; a drift check of the stack paused by someone else stays paused, and setup says so.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import task
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import VariableCreate
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.responses import DeploymentResponse

from core.naming import require_stack_name
from tasks.logs import run_logger
from tasks.prefect_api import prefect_client

#: The flow whose deployments check one stack (the fleet check skips stacks that are gone).
DRIFT_FLOW = "drift-check"
_TAGS = ["kubeflow-alb", "paused-drift-check"]


def paused_variable(stack: str) -> str:
    """The Prefect Variable naming the drift checks cleanup paused for a stack."""
    return f"kfalb-paused-drift-{require_stack_name(stack, source='stack')}"


def _checks_of(client: SyncPrefectClient, stack: str) -> list[DeploymentResponse]:
    found = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[DRIFT_FLOW])))
    return [d for d in found if (d.parameters or {}).get("stack") == stack]


@task(name="pause-drift-schedules")
def pause_drift_schedules(stack: str) -> tuple[str, ...]:
    """Pause every `drift-check` deployment whose `stack` parameter is this stack; return their
    names. The next setup of the stack resumes them."""
    paused: dict[str, str] = {}
    with prefect_client() as client:
        for deployment in _checks_of(client, stack):
            if deployment.paused:
                continue
            client.pause_deployment(deployment.id)
            paused[str(deployment.id)] = f"{DRIFT_FLOW}/{deployment.name}"
        if paused:
            _remember(client, stack, paused)
    if paused:
        run_logger().info(
            "Paused %s: stack %s is gone (its next setup resumes it)",
            ", ".join(paused.values()),
            stack,
        )
    return tuple(paused.values())


@task(name="resume-drift-schedules")
def resume_drift_schedules(stack: str) -> tuple[str, ...]:
    """Resume the `drift-check` deployments of this stack that its cleanup paused; return their
    names. One paused otherwise is left paused, with a warning naming it."""
    resumed, left = [], []
    with prefect_client() as client:
        ours = _recalled(client, stack)
        for deployment in _checks_of(client, stack):
            name = f"{DRIFT_FLOW}/{deployment.name}"
            if not deployment.paused:
                continue
            if str(deployment.id) in ours:
                client.resume_deployment(deployment.id)
                resumed.append(name)
            else:
                left.append(name)
        if ours:
            client.delete_variable_by_name(paused_variable(stack))
    log = run_logger()
    if resumed:
        log.info("Resumed %s (paused by the cleanup of stack %s)", ", ".join(resumed), stack)
    if left:
        log.warning(
            "%s checks stack %s but is paused (not by its cleanup): `prefect deployment "
            "resume '%s'` turns it on",
            ", ".join(left),
            stack,
            left[0],
        )
    return tuple(resumed)


def _remember(client: SyncPrefectClient, stack: str, paused: dict[str, str]) -> None:
    value: Any = {**_recalled(client, stack), **paused}
    variable = client.read_variable_by_name(paused_variable(stack))
    if variable is not None:
        client.delete_variable_by_name(paused_variable(stack))
    client.create_variable(VariableCreate(name=paused_variable(stack), value=value, tags=_TAGS))


def _recalled(client: SyncPrefectClient, stack: str) -> dict[str, str]:
    variable = client.read_variable_by_name(paused_variable(stack))
    if variable is None or not isinstance(variable.value, dict):
        return {}
    return {str(UUID(str(key))): str(name) for key, name in variable.value.items()}
