"""Approval of a setup's plan through Prefect itself (slow): the setup deployment of prefect.yaml
on a real server and a process worker, started with `prefect deployment run`, waits suspended
for a reviewer; the answer is given the way the UI's Resume form gives it (POST
/flow_runs/{id}/resume with the form's values).

One server, worker and sandbox world serve every case. The worker runs one flow-run process at a
time (`--limit 1`, a slot freed only when the process exits), so runs that wait side by side
show that a waiting run holds no worker slot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from e2e_prefect import REPO, PrefectApi, PrefectStack, prefect, python
from test_prefect_deployments import (
    NO_AWS_FILES,
    POOL,
    SAVE_CREDENTIALS,
    SETTINGS,
    STACK,
    Sandbox,
    _footprint,
    running_world,
)

pytestmark = [pytest.mark.end_to_end, pytest.mark.slow, pytest.mark.timeout(900)]

SETUP = "setup-load-balancer/setup-load-balancer"
SUSPENDED = "Suspended"
ELB_TAG = "kubernetes.io/role/elb"
#: The spec of examples/sandbox.yaml, with approval required by the stack itself.
SPEC = yaml.safe_load((REPO / "examples" / "sandbox.yaml").read_text())
SPEC["stack"]["approval"] = "required"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_world(tmp_path_factory.mktemp("approval-world")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, world: Sandbox) -> Iterator[PrefectStack]:
    """A server (its expired pauses failed every second), the setup deployment, a worker that
    runs one flow-run process at a time."""
    stack = PrefectStack(tmp_path_factory.mktemp("approval-prefect"))
    stack.env["PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS"] = "1"
    try:
        stack.start()
        stack.cli("work-pool", "create", POOL, "--type", "process")
        endpoints = {
            k: v
            for k, v in world.env.items()
            if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        }
        stack.start_worker(POOL, {**endpoints, **SETTINGS, **NO_AWS_FILES}, limit=1)
        stack.together(
            [
                prefect("block", "register", "-m", "tasks.stack_block"),
                python(SAVE_CREDENTIALS),
                prefect("deploy", "--name", "setup-load-balancer", "--name", "drift-check"),
            ],
            env={"PYTHONPATH": "."},
        )
        yield stack
    finally:
        stack.stop()


def _start(stack: PrefectStack, *extra: str) -> str:
    """`prefect deployment run` of the setup with the approval-required spec; the run's id."""
    output = stack.cli("deployment", "run", SETUP, "--params", json.dumps({"spec": SPEC}), *extra)
    found = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
    assert found, output
    return found.group(1)


def _form(api: PrefectApi, run_id: str) -> tuple[str, str]:
    """The waiting run's form: its description (Markdown) and the digest it asks about."""
    shown = api.run_input(run_id)
    digest = shown["schema"]["properties"]["plan_digest"]["default"]
    assert digest.startswith("sha256:")
    assert set(shown["schema"]["properties"]) >= {"decision", "reviewer", "comment"}
    return shown["description"], digest


def _locks(api: PrefectApi) -> list[str]:
    """The kubeflow-alb locks held now (stack and cluster leases are Prefect Variables)."""
    found = api.post("/variables/filter", {"variables": {"name": {"like_": "kfalb-"}}})
    return [v["name"] for v in found if "lock" in v["name"]]


def test_reject_stale_and_timeout_apply_nothing_and_waiting_holds_no_slot_nor_lock(
    deployed: PrefectStack, world: Sandbox
) -> None:
    api = deployed.api
    untouched = _footprint(world)
    timeout = ("--job-variable", 'env={"KFALB_APPROVAL_TIMEOUT_SECONDS": "20"}')
    rejected, stale, unanswered = _start(deployed), _start(deployed), _start(deployed, *timeout)
    # One flow-run process at a time on the worker: the second and third could only start
    # because the processes of the runs before them, waiting, had ended.
    for run in (rejected, stale):
        api.wait_for_state(run, SUSPENDED)
    assert _locks(api) == []  # nobody holds the stack's (or the cluster's) lock meanwhile
    description, digest = _form(api, rejected)
    assert f"Approve the setup of stack `{STACK}`?" in description
    assert f"**Digest:** `{digest.removeprefix('sha256:')[:12]}`" in description
    # The plan's table is a link to its page in the UI: this run's artifact of that key.
    linked = re.search(
        rf"\[`{STACK}-plan`\]\({api.url[:-4]}/artifacts/artifact/([0-9a-f-]{{36}})\)", description
    )
    assert linked, description
    assert api.artifacts(rejected)[f"{STACK}-plan"]["id"] == linked.group(1)
    assert f"[`{STACK}-plan-review`]({api.url[:-4]}/artifacts/artifact/" in description
    assert re.search(r"\*\*Plan:\*\* \d+ to create, 0 to change, \d+ in place", description)
    assert "**Policy:**" in description
    assert "**Cost:**" in description
    _, stale_digest = _form(api, stale)
    assert stale_digest == digest  # the same world, the same plan

    # Meanwhile someone tags a subnet for ALBs: the waiting plans are not the world's any more.
    subnet = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").create_tags(Resources=[subnet], Tags=[{"Key": ELB_TAG, "Value": "1"}])
    tampered = _footprint(world)
    assert tampered != untouched
    _answer(api, rejected, "reject", digest, comment="not during the freeze")
    _answer(api, stale, "approve", stale_digest, comment="")

    ended = api.wait_for_run(rejected)
    assert ended["state_type"] == "CANCELLED", ended["state"]
    assert ended["state"]["message"] == (
        f"Stack {STACK}: sre@example.com rejected the setup plan: not during the freeze. "
        "Nothing was applied."
    )
    ended = api.wait_for_run(stale)
    assert ended["state_type"] == "FAILED", ended["state"]
    assert "the plan is stale" in ended["state"]["message"]
    assert "Nothing was applied" in ended["state"]["message"]
    ended = api.wait_for_run(unanswered)
    assert ended["state_type"] == "FAILED", ended["state"]
    assert ended["state"]["message"] == "The flow was paused and never resumed."
    assert _footprint(world) == tampered  # nothing applied by any of the three
    assert STACK not in api.block_documents("load-balancer-stack")  # not even a block saved
    assert _locks(api) == []


def test_approving_applies_exactly_the_plan_and_the_stack_converges(
    deployed: PrefectStack, world: Sandbox
) -> None:
    api = deployed.api
    untouched = _footprint(world)
    run = _start(deployed)
    api.wait_for_state(run, SUSPENDED)
    description, digest = _form(api, run)
    assert _footprint(world) == untouched  # nothing made before the answer
    _answer(api, run, "approve", digest, comment="ok")
    ended = api.wait_for_run(run)
    assert ended["state_type"] == "COMPLETED", f"{ended['state']}\n{api.logs(run)}"
    logs = api.logs(run)
    assert f"sre@example.com approved the setup plan {digest} (ok)" in logs
    # Suspended, then run again from the start: it says it waits once, then finds its answer.
    assert logs.count("waits for approval in the Prefect UI") == 1, logs
    assert "answered while this run was suspended" in logs
    # What was applied is what the form showed: the summary's plan is the approved one.
    planned = re.search(r"\*\*Plan:\*\* (\d+ to create, \d+ to change, \d+ in place)", description)
    assert planned
    summary = api.artifacts(run)[f"{STACK}-summary"]["data"]
    assert f"Plan: {planned.group(1)}." in summary
    record = api.block_documents("load-balancer-stack")[STACK]["data"]
    assert record["phase"] == "ready"
    assert record["dashboard_url"].startswith("https://kubeflow.")

    # Converged: the same setup again has nothing to approve, so it never waits.
    again = _start(deployed)
    ended = api.wait_for_run(again)
    assert ended["state_type"] == "COMPLETED", ended["state"]
    assert "Plan: 0 to create, 0 to change" in api.artifacts(again)[f"{STACK}-summary"]["data"]
    assert SUSPENDED not in {s["name"] for s in _states(api, again)}


def test_a_repair_waits_for_approval_then_repairs_only_what_drifted(
    deployed: PrefectStack, world: Sandbox
) -> None:
    """The stack set up by the test before (approval required) drifts; its drift check with
    remediation, a deployment run, waits for a reviewer like setup, then repairs."""
    api = deployed.api
    subnet = world.seeded.public_subnet_ids[1]  # tagged for ALBs by the stack's setup
    ec2 = world.aws.client("ec2")
    ec2.delete_tags(Resources=[subnet], Tags=[{"Key": ELB_TAG}])
    drifted = _footprint(world)
    run = api.run_deployment("drift-check/drift-check", remediate=True)
    api.wait_for_state(run, SUSPENDED)
    assert _locks(api) == []
    description, digest = _form(api, run)
    assert f"Approve the remediation of stack `{STACK}`?" in description
    assert f"[`{STACK}-drift`]({api.url[:-4]}/artifacts/artifact/" in description
    assert _footprint(world) == drifted  # nothing repaired before the answer
    _answer(api, run, "approve", digest, comment="repair the tag")
    ended = api.wait_for_run(run)
    assert ended["state_type"] == "COMPLETED", f"{ended['state']}\n{api.logs(run)}"
    assert f"sre@example.com approved the remediation plan {digest}" in api.logs(run)
    (tagged,) = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"]
    assert ELB_TAG in {tag["Key"] for tag in tagged["Tags"]}
    # Only the tag was repaired: the rest of the stack is as it was.
    repaired = _footprint(world)
    assert {k: v for k, v in repaired.items() if k != "subnet tags"} == {
        k: v for k, v in drifted.items() if k != "subnet tags"
    }


def _answer(api: PrefectApi, run_id: str, decision: str, digest: str, *, comment: str) -> None:
    """Answer the run's form as sre@example.com, as the UI's Resume form does."""
    answer = {"decision": decision, "reviewer": "sre@example.com", "comment": comment}
    api.resume(run_id, {**answer, "plan_digest": digest})


def _states(api: PrefectApi, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/flow_run_states/?flow_run_id={run_id}")
    return found
