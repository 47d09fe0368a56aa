"""A fleet shared by two workers (slow): `drift-check-fleet` with shards runs each shard as a
`drift-check-shard` deployment run on the work pool; two process workers (one run at a time
each) take one shard each, every Route53 request of both goes through one Prefect global
concurrency limit of the account (slot decay = the rate), and the fleet's run gathers the
shards' rows into its one table."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from e2e_prefect import PrefectStack, prefect
from test_prefect_deployments import POOL, SETTINGS, WORLD

from core.spec import StackSpec, load_spec

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/fleet_seed.py
from fleet_seed import Seeder  # noqa: E402

pytestmark = [pytest.mark.end_to_end, pytest.mark.timeout(900)]

RATE = "4"  # Route53 requests per second of the account, for both workers together
EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


def _spec(index: int) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["route53"]["subDomain"]["name"] = f"team{index}.example.com"
    data["stack"].update(name=f"team-{index}", ingressName=f"kubeflow-{index}")
    return StackSpec.model_validate(data)


def test_two_workers_share_a_fleet_and_one_route53_budget(
    prefect_stack: PrefectStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from flows.check_drift import check_drift_fleet
    from flows.setup_load_balancer import setup_load_balancer
    from sandbox.aws.accounts import seen_requests, throttled
    from sandbox.world import World
    from tasks.aws import clients

    storage = tmp_path / "results"  # the shards' rows, read back by the fleet's run
    # A Helm-installed controller: the template holds no IAM of its own to clone.
    # An account of its own: moto's accounts live as long as the process, and the other
    # deployment tests' worlds (WORLD's account) may run in the same worker before or after.
    options = replace(WORLD, controller="preinstalled", account_id="388888888888")
    with World(tmp_path / "world", options) as world:
        for key, value in {**world.env, **SETTINGS, "KFALB_ROUTE53_RATE": "100"}.items():
            monkeypatch.setenv(key, value)
        clients.reset_sessions()
        # The sandbox's bucket holds RATE requests here (AWS's holds 50): no burst on top.
        env = {**world.env, **SETTINGS, "KFALB_ROUTE53_RATE": RATE, "KFALB_ROUTE53_BURST": "1",
               "PREFECT_LOCAL_STORAGE_PATH": str(storage)}  # fmt: skip
        prefect_stack.cli("work-pool", "create", POOL, "--type", "process")
        prefect_stack.together([prefect("deploy", "--all")], env={"PYTHONPATH": "."})
        for name in ("one", "two"):
            prefect_stack.start_worker(POOL, env, limit=1, name=name)
        with temporary_settings(updates={PREFECT_API_URL: prefect_stack.api.url,
                                         PREFECT_LOCAL_STORAGE_PATH: storage}):  # fmt: skip
            template = _spec(0)
            setup_load_balancer(spec=template)
            Seeder(world, template.name).seed([_spec(i) for i in (1, 2, 3)])
            world.aws.set_route53_rate(float(RATE))  # AWS's token bucket, as the sandbox keeps it
            before, since = sum(throttled.values()), time.monotonic()
            results = check_drift_fleet(shards=2, max_concurrent=2)

    assert results == {f"team-{i}": "ok" for i in range(4)}
    assert sum(throttled.values()) == before  # both workers under one budget: none refused
    route53 = [r for r in seen_requests(since=since) if r.service == "route53"]
    assert len(route53) >= 4 * 5  # every stack's Route53 reads went through the limit
    api = prefect_stack.api
    limit = api.get(f"/v2/concurrency_limits/kfalb-route53-account-{options.account_id}")
    assert (limit["limit"], limit["slot_decay_per_second"]) == (1, float(RATE))
    shard_runs = _shard_runs(api)
    assert sorted(len(run["parameters"]["stacks"]) for run in shard_runs) == [2, 2]
    assert {run["state_type"] for run in shard_runs} == {"COMPLETED"}
    for name in ("one", "two"):  # each worker ran one of the shards
        log = prefect_stack.log_tail(f"worker-{name}", lines=400)
        assert sum(_ran(log, run["id"]) for run in shard_runs) == 1, log


def _ran(log: str, run_id: str) -> bool:
    """The worker submitted the run and the server let it (a worker that tries a run another
    worker just took logs 'Aborted submission': the server refused it the run)."""
    tried = f"submitting flow run '{run_id}'" in log
    return tried and f"Aborted submission of flow run '{run_id}'" not in log


def _shard_runs(api: Any) -> list[dict[str, Any]]:
    deployment = api.deployment("drift-check-shard/drift-check-shard")
    runs: list[dict[str, Any]] = api.post(
        "/flow_runs/filter", {"deployments": {"id": {"any_": [deployment["id"]]}}}
    )
    return runs
