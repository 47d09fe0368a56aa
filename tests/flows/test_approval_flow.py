"""Approval before apply, in a run without a deployment (paused in its process): the plan waits
for a reviewer's answer given as the run's input; approve applies exactly it, reject applies
nothing, a world changed meanwhile is a stale plan, no answer times out. The stack's lock is
free while waiting. A remediation waits for approval the same way."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture
def spec() -> StackSpec:
    return load_spec(EXAMPLE.read_text())


@pytest.fixture
def quick_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFALB_APPROVAL_POLL_SECONDS", "1")


class Run:
    """A setup run in a thread, waiting for an answer; its outcome once it ends."""

    def __init__(self, spec: StackSpec, **parameters: Any) -> None:
        from flows.setup_load_balancer import setup_load_balancer

        self.state: Any = None

        def run() -> None:
            self.state = setup_load_balancer(spec=spec, return_state=True, **parameters)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def paused(self) -> UUID:
        """The flow run's id once it waits for its answer (a bounded look at the API)."""
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType

        from core.waiting import wait_until

        def look() -> list[Any]:
            with get_client(sync_client=True) as client:
                kind = FlowRunFilterStateType(any_=[StateType.PAUSED])
                return client.read_flow_runs(flow_run_filter=FlowRunFilter(state={"type": kind}))

        runs = wait_until(look, bool, what="the setup run to wait for approval", timeout=120,
                          interval=0.2)  # fmt: skip
        assert runs is not None
        (found,) = runs
        return UUID(str(found.id))

    def answer(self, **answer: Any) -> Any:
        from prefect.flow_runs import resume_flow_run

        run_id = self.paused()
        resume_flow_run(run_id, run_input=answer)
        self.thread.join(timeout=300)
        assert not self.thread.is_alive()
        return self.state


def _digest(run: Run) -> str:
    return _digest_of(run, what="setup")


def _digest_of(run: Run, *, what: str) -> str:
    from prefect import get_client
    from prefect.input.run_input import keyset_from_paused_state

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run.paused())
    assert flow_run.state is not None
    keyset = keyset_from_paused_state(flow_run.state)
    from prefect.input.actions import read_flow_run_input

    found = read_flow_run_input(key=keyset["description"], flow_run_id=flow_run.id)
    assert f"Approve the {what} of stack `platform-example-com`?" in str(found)
    # The plan's table is linked: its page in the UI.
    table = "plan" if what == "setup" else "drift"
    assert re.search(
        rf"\[`platform-example-com-{table}`\]\(http://[^)]+/artifacts/artifact/"
        r"[0-9a-f-]{36}\)",
        str(found),
    ), found
    schema = read_flow_run_input(key=keyset["schema"], flow_run_id=flow_run.id)
    digest: str = schema["properties"]["plan_digest"]["default"]
    return digest


@pytest.fixture
def world(sandbox_world: Callable[..., Any], quick_answers: None) -> Any:
    return sandbox_world()


def test_approving_applies_exactly_the_plan_then_a_remediation_waits_for_approval_too(
    world: Any, spec: StackSpec
) -> None:
    """The stack's lock is free while a human decides; the stack the approved setup made then
    drifts, and its remediation waits for approval and repairs only what was approved."""
    from prefect.flow_runs import resume_flow_run

    from flows.check_drift import check_drift
    from tasks.aws.clients import api_calls
    from tasks.stack_lock import stack_lock_of
    from tests.leases_held import held_lease
    from tests.tamper import delete_dashboard_record

    calls = api_calls()
    run = Run(spec, approval=True)
    digest = _digest(run)
    assert digest.startswith("sha256:")
    assert api_calls().since(calls).mutating_calls() == ()  # nothing before the answer
    assert held_lease(stack_lock_of(spec.name)) is None  # no lock held while a human decides
    state = run.answer(decision="approve", reviewer="sre@example.com", comment="ok",
                       plan_digest=digest)  # fmt: skip
    assert state.is_completed(), state
    assert state.result()["url"].startswith("https://kubeflow.")

    delete_dashboard_record(world, spec.subdomain)
    outcome: dict[str, Any] = {}

    def remediate() -> None:
        outcome["state"] = check_drift(stack=spec.name, remediate=True, approval=True,
                                       return_state=True)  # fmt: skip

    thread = threading.Thread(target=remediate, daemon=True)
    thread.start()
    remediation = Run.__new__(Run)
    remediation.thread, remediation.state = thread, None
    digest = _digest_of(remediation, what="remediation")
    resume_flow_run(remediation.paused(), run_input={"decision": "approve", "reviewer": "sre",
                                                     "plan_digest": digest})  # fmt: skip
    thread.join(timeout=300)
    state = outcome["state"]
    assert state.is_completed(), state
    assert state.result()["status"] == "repaired"
    assert "dns-record" in state.result()["repaired"]


def test_rejecting_applies_nothing_and_the_run_ends_cancelled(world: Any, spec: StackSpec) -> None:
    from tasks.aws.clients import api_calls

    calls = api_calls()
    run = Run(spec, approval=True)
    state = run.answer(decision="reject", reviewer="sre@example.com",
                       comment="not during the freeze", plan_digest=_digest(run))  # fmt: skip
    assert state.is_cancelled(), state
    assert "rejected the setup plan: not during the freeze. Nothing was applied." in state.message
    assert api_calls().since(calls).mutating_calls() == ()


def test_a_world_changed_while_waiting_is_a_stale_plan(world: Any, spec: StackSpec) -> None:
    from core.errors import StalePlan
    from tasks.aws.clients import api_calls

    run = Run(spec, approval=True)
    digest = _digest(run)
    # Meanwhile someone tags a subnet for ALBs: the plan is not the one approved any more.
    subnet = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").create_tags(
        Resources=[subnet], Tags=[{"Key": "kubernetes.io/role/elb", "Value": "1"}]
    )
    calls = api_calls()
    state = run.answer(decision="approve", reviewer="sre", plan_digest=digest)
    assert state.is_failed(), state
    with pytest.raises(StalePlan, match="the plan is stale"):
        state.result()
    assert api_calls().since(calls).mutating_calls() == ()


def test_no_answer_times_out_with_nothing_applied(
    world: Any, spec: StackSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.exceptions import FailedRun

    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    monkeypatch.setenv("KFALB_APPROVAL_TIMEOUT_SECONDS", "2")
    calls = api_calls()
    # Prefect's own end of an expired wait (its message); ours is the run's last log line.
    with pytest.raises(FailedRun, match="and never resumed"):
        setup_load_balancer(spec=spec, approval=True)
    assert api_calls().since(calls).mutating_calls() == ()
