"""A fleet's shards as deployment runs on a work pool: every worker of the pool takes a share,
the fleet's run gathers their rows into its one table."""

from __future__ import annotations

from typing import Any, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from tasks.logs import run_logger

#: The deployment of `drift-check-shard` in prefect.yaml.
SHARD_DEPLOYMENT = "drift-check-shard/drift-check-shard"


@task(name="drift-check-shard-run", cache_policy=NO_CACHE)
def _run_shard(deployment: str, parameters: dict[str, Any]) -> list[dict[str, str]]:
    """Run one shard as a deployment run (a subflow of the fleet's run) and wait for its rows;
    a shard that did not complete makes each of its stacks an error row."""
    run = cast(FlowRun, run_deployment(name=deployment, parameters=parameters, timeout=None))
    state = run.state
    if state is not None and state.is_completed():
        return cast(list[dict[str, str]], state.result())
    what = f"shard run {run.name} ended {state.name if state else 'without a state'}"
    run_logger().error("%s: %s", what, state.message if state else "")
    return [{"stack": stack, "result": f"error: {what}", "aws calls": "-"}
            for stack in parameters["stacks"]]  # fmt: skip


def run_shards(
    shards: list[list[str]], deployment: str, options: dict[str, Any]
) -> list[dict[str, str]]:
    """Every shard at once on the deployment's work pool; the rows in the shards' order."""
    futures = [_run_shard.submit(deployment, {**options, "stacks": part}) for part in shards]
    return [row for future in futures for row in future.result()]
