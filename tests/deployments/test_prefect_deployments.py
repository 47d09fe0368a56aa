"""End to end through Prefect itself (slow): prefect.yaml deployed to a real server, runs on a worker.

`prefect server start`, `prefect work-pool create`, `prefect deploy --all`, `prefect worker start`
and `prefect deployment run` run as subprocesses, as a user runs them; the flows run in the
worker's flow-run processes against a sandbox world served from this process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_prefect import REPO, PrefectApi, PrefectStack

from sandbox.world import World, WorldOptions

pytestmark = [pytest.mark.end_to_end, pytest.mark.timeout(900)]

POOL = "kubeflow-alb"
STACK = "platform-example-com"
STACK_BLOCK_TYPE = "load-balancer-stack"
DRIFT_EVENT = "kubeflow-alb.drift.detected"
#: Short but real delays in the world, and wait bounds that fail fast (passed to the worker).
WORLD = WorldOptions(
    account_id="377777777777",
    acm_delay=0.4,
    alb_delay=0.4,
    dns_delay=0.2,
    route53_sync_delay=0.1,
    deployment_ready_delay=0.2,
    poll_interval=0.05,
)
SETTINGS = {
    "KFALB_POLL_INTERVAL_SECONDS": "0.05",
    "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.2",
    **{
        f"KFALB_{wait}_TIMEOUT_SECONDS": "60"
        for wait in ("ACM", "DELEGATION", "ROUTE53", "CONTROLLER", "INGRESS", "ALB", "DNS")
    },
    "KFALB_HTTPS_TIMEOUT_SECONDS": "60",
    "KFALB_CLEANUP_TIMEOUT_SECONDS": "60",
}
SAVE_CREDENTIALS = """
from prefect_aws import AwsCredentials
AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
               region_name="us-west-2").save("aws-credentials", overwrite=True)
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path / "world", WORLD)
    world.start()
    yield world
    world.stop()


@pytest.fixture
def deployed(prefect_stack: PrefectStack, world: World) -> PrefectStack:
    """The work pool, the blocks and every deployment of prefect.yaml, and a worker on the pool."""
    prefect_stack.cli("work-pool", "create", POOL, "--type", "process")
    prefect_stack.cli("block", "register", "-m", "tasks.stack_block", env={"PYTHONPATH": "."})
    prefect_stack.python(SAVE_CREDENTIALS)
    prefect_stack.cli("deploy", "--name", "setup-load-balancer")  # the others once their flows land
    prefect_stack.start_worker(POOL, {**world.env, **SETTINGS})
    return prefect_stack


def test_deployments_set_up_check_drift_and_clean_up_a_stack(
    deployed: PrefectStack, world: World
) -> None:
    api = deployed.api
    # _check_deployments(api): once every flow of prefect.yaml has landed

    # Setup, the way a user starts it: `prefect deployment run ... --params`, watched to the end.
    spec = yaml.safe_load((REPO / "examples" / "sandbox.yaml").read_text())
    output = deployed.cli(
        "deployment", "run", "setup-load-balancer/setup-load-balancer",
        "--params", json.dumps({"spec": spec}), "--watch", "--watch-interval", "1",
    )  # fmt: skip
    setup_id = _run_id(output)
    _expect(api, setup_id, "COMPLETED", deployed)
    blocks = api.block_documents(STACK_BLOCK_TYPE)
    assert set(blocks) == {STACK}
    record = blocks[STACK]["data"]["record"]
    assert record["phase"] == "ready"
    assert {item["kind"] for item in record["resources"]} >= {
        "hosted-zone", "certificate", "subnet-tag", "iam-role", "ingress", "dns-record",
    }  # fmt: skip
    assert set(api.artifacts(setup_id)) >= {
        f"{STACK}-summary", f"{STACK}-resources", f"{STACK}-dashboard", f"{STACK}-aws-api-calls",
    }  # fmt: skip


def _check_deployments(api: PrefectApi) -> None:
    """Every deployment of prefect.yaml on the pool; only the drift check is scheduled."""
    names = {
        "setup-load-balancer/setup-load-balancer",
        "cleanup-load-balancer/cleanup-load-balancer",
        "drift-check/drift-check",
        "drift-check-fleet/drift-check-fleet",
    }
    deployments = {name: api.deployment(name) for name in names}
    assert {d["work_pool_name"] for d in deployments.values()} == {POOL}
    for deployment in deployments.values():
        step = deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert Path(step["directory"]) == REPO
        assert deployment["parameters"]["aws_credentials_block"] == "aws-credentials"
    schedules = {
        name: [(s["schedule"].get("cron"), s["active"]) for s in d["schedules"]]
        for name, d in deployments.items()
    }
    assert schedules["drift-check/drift-check"] == [("0 * * * *", True)]
    assert schedules["drift-check-fleet/drift-check-fleet"] == [("30 * * * *", False)]
    assert schedules["setup-load-balancer/setup-load-balancer"] == []


def _run_id(cli_output: str) -> str:
    for line in cli_output.splitlines():
        if "UUID:" in line:
            return line.split("UUID:", 1)[1].strip()
    raise AssertionError(f"no flow run id in:\n{cli_output}")


def _expect(api: PrefectApi, run_id: str, state: str, stack: PrefectStack) -> dict[str, Any]:
    run: dict[str, Any] = api.wait_for_run(run_id)
    assert run["state_type"] == state, (
        f"{run['name']} ended {run['state_type']}: {run['state'].get('message')}\n"
        f"--- run logs\n{api.logs(run_id)}\n--- worker\n{stack.log_tail('worker')}"
    )
    return run
