"""Shared fixtures: a Prefect test server for the session, and sandbox worlds for scenario tests."""

from __future__ import annotations

import functools
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The test server keeps the services the tests read from (task runs, stored events, logs) and
# runs no automation: no test makes one, and every event would go through the triggers.
os.environ.setdefault("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "false")
# Nor does any test subscribe to the live event stream (the stored events are read instead).
os.environ.setdefault("PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED", "false")
# Bytecode is written, whatever the shell says: with PYTHONDONTWRITEBYTECODE set (as on the
# build machines), every worker and every `kfalb` a scenario starts (a kill chain starts 27)
# compiled the project's sources again, about 0.3 s of CPU each. It goes to __pycache__
# (ignored by git; the wheel takes only sources and data).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


class _SearchPaths(list[str]):
    """A loader's search paths that add each path once (boto3 appends its own per session)."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> Any:
    loader = _create_loader(search_path_string)
    loader._search_paths = _SearchPaths(loader.search_paths)
    return loader


# Tests make fresh boto3 sessions all the time (clients.reset_sessions between tests, the
# sandbox's own clients), and each session's loader parses botocore's service models again:
# megabytes of JSON, most of the suite's CPU. The models are read-only data, so in the test
# process every session shares one loader (and its cache) per data path.
_create_loader = botocore.loaders.create_loader
botocore.session.create_loader = _shared_loader

#: Fast but honest defaults for scenario worlds: every delay is real, just short.
FAST_WORLD: dict[str, Any] = {
    "acm_delay": 0.4,
    "alb_delay": 0.4,
    "dns_delay": 0.2,
    "route53_sync_delay": 0.1,
    "deployment_ready_delay": 0.2,
    "poll_interval": 0.05,
    # A Gateway's Programmed turns True at the controller's next look (v3.5.0: 2 minutes later).
    "gateway_status_requeue": 0.4,
}
#: Wait bounds for scenario tests: long enough for the delays above, short enough to fail fast.
FAST_SETTINGS = {
    "KFALB_POLL_INTERVAL_SECONDS": "0.05",
    "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.2",
    "KFALB_ACM_TIMEOUT_SECONDS": "30",
    "KFALB_DELEGATION_TIMEOUT_SECONDS": "30",
    "KFALB_ROUTE53_TIMEOUT_SECONDS": "30",
    "KFALB_CONTROLLER_TIMEOUT_SECONDS": "30",
    "KFALB_INGRESS_TIMEOUT_SECONDS": "30",
    "KFALB_ALB_TIMEOUT_SECONDS": "30",
    "KFALB_DNS_TIMEOUT_SECONDS": "30",
    "KFALB_HTTPS_TIMEOUT_SECONDS": "30",
    "KFALB_CLEANUP_TIMEOUT_SECONDS": "30",
    # The Route53 budget is tested on its own (tests/core/test_rate_budget.py, the fleet test).
    "KFALB_ROUTE53_RATE": "100",
}
_accounts = itertools.count(1)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Prefect server (SQLite) for every flow run of the session; no heartbeat thread."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture
def sandbox_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> Iterator[Callable[..., Any]]:
    """Start a sandbox world (own AWS account) and point this test's environment at it.

    Call it with WorldOptions fields to change the seeded world, e.g. `controller="preinstalled"`.
    Saved stack blocks are removed afterwards so tests do not see each other's stacks.
    """
    from sandbox.world import World, WorldOptions
    from tasks.aws import clients

    worlds: list[World] = []

    def start(**options: Any) -> World:
        account = f"3{next(_accounts):011d}"
        world = World(
            tmp_path / f"world-{len(worlds)}",
            WorldOptions(**{"account_id": account, **FAST_WORLD, **options}),
        )
        worlds.append(world)
        for key, value in {**world.start(), **FAST_SETTINGS}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
        clients.reset_sessions()
        return world

    yield start
    for world in worlds:
        world.stop()
    clients.reset_sessions()
    _forget_stacks()


def _forget_stacks() -> None:
    from tasks.stack_block import delete_record, saved_stacks

    for stack in saved_stacks():
        delete_record(stack)


#: Test tiers by package: `make test-fast` runs the pure and unit tiers (about two minutes).
_TIERS = {"core": "pure", "tasks": "unit"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier: pure (core), unit (tasks on moto), server (tasks that need
    a Prefect server: starting one costs each worker about 20 s of CPU, too much for the fast
    tier) or scenario (the rest: the sandbox's own tests, flows against the sandbox, the
    command, deployments)."""
    root = Path(__file__).parent
    first: dict[str, int] = {}
    for item in items:
        package = Path(item.fspath).relative_to(root).parts[0]
        tier = _TIERS.get(package, "scenario")
        if tier != "scenario" and "prefect_server" in getattr(item, "fixturenames", ()):
            tier = "server"
        item.add_marker(getattr(pytest.mark, tier))
        first[item.nodeid] = _FIRST.get(package, 1)
    # The long files first (scenarios of a minute or more each), the short ones last: workers
    # take whole files in this order, and a long file started last keeps the run waiting on it.
    items.sort(key=lambda item: first[item.nodeid])  # stable: each file keeps its order


#: Which packages' files go to the workers first (others, such as the wheel's test, with kfalb).
_FIRST = {"flows": 0, "deployments": 0, "kfalb": 1, "sandbox": 2, "tasks": 3, "core": 4}
