"""Cleaning up a stack pauses the drift-check deployments that check it, and only those; its next
setup resumes exactly those."""

from __future__ import annotations

from prefect import get_client

from tasks.schedules import DRIFT_FLOW, pause_drift_schedules, resume_drift_schedules


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


def test_setup_resumes_what_cleanup_paused_and_only_that(prefect_server: None) -> None:
    paused_by_cleanup = _deployment(DRIFT_FLOW, "hourly-back", "back-stack")
    paused_by_hand = _deployment(DRIFT_FLOW, "hourly-by-hand", "back-stack")
    assert resume_drift_schedules.fn("back-stack") == ()  # nothing paused: nothing to do
    with get_client(sync_client=True) as client:
        client.pause_deployment(paused_by_hand)  # type: ignore[arg-type]
    assert pause_drift_schedules.fn("back-stack") == (f"{DRIFT_FLOW}/hourly-back",)

    assert resume_drift_schedules.fn("back-stack") == (f"{DRIFT_FLOW}/hourly-back",)
    assert not _paused(paused_by_cleanup)
    assert _paused(paused_by_hand)  # someone else's pause: left, with a warning
    assert resume_drift_schedules.fn("back-stack") == ()  # the note is gone with the resume
