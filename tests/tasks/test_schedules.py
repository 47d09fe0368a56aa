"""Cleaning up a stack pauses the drift-check deployments that check it, and only those."""

from __future__ import annotations

from prefect import get_client

from tasks.schedules import DRIFT_FLOW, pause_drift_schedules


def _deployment(flow: str, name: str, stack: str) -> object:
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name(flow)
        return client.create_deployment(flow_id=flow_id, name=name, parameters={"stack": stack},
                                        paused=False)  # fmt: skip


def _paused(deployment_id: object) -> bool:
    with get_client(sync_client=True) as client:
        return bool(client.read_deployment(deployment_id).paused)  # type: ignore[arg-type]


def test_only_the_stacks_drift_checks_are_paused(prefect_server: None) -> None:
    ours = _deployment(DRIFT_FLOW, "hourly-gone", "gone-stack")
    other_stack = _deployment(DRIFT_FLOW, "hourly-other", "other-stack")
    other_flow = _deployment("setup-load-balancer", "setup-gone", "gone-stack")

    assert pause_drift_schedules.fn("gone-stack") == (f"{DRIFT_FLOW}/hourly-gone",)
    assert _paused(ours)
    assert not _paused(other_stack)
    assert not _paused(other_flow)
    assert pause_drift_schedules.fn("gone-stack") == ()  # already paused: nothing to do
