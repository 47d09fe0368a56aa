"""Fixtures for the Kubernetes tasks: a fresh sandbox API server per test, reached via kubeconfig."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.albcontroller.webhooks import AlbWebhookServer
from sandbox.kube.seed import seed_kubeflow_cluster
from sandbox.kube.server import KubeApiServer
from tasks.k8s.clients import KubeTarget

STACK = "platform-example-com"
SEEDER = "test-seed"


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls and bounds small enough for seconds-long tests (the waits still poll, never sleep long)."""
    for name, value in {
        "KFALB_POLL_INTERVAL_SECONDS": "0.02",
        "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.1",
        "KFALB_CONTROLLER_TIMEOUT_SECONDS": "10",
        "KFALB_INGRESS_TIMEOUT_SECONDS": "10",
        "KFALB_CLEANUP_TIMEOUT_SECONDS": "10",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("KFALB_KUBE_CONTEXT", raising=False)


@pytest.fixture
def alb_webhooks() -> Iterator[AlbWebhookServer]:
    """The ALB controller's webhook server of ``kube_server`` (``set_answering`` holds it back)."""
    webhooks = AlbWebhookServer()
    yield webhooks
    webhooks.stop()


@pytest.fixture
def kube_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fast_settings: None,
    alb_webhooks: AlbWebhookServer,
) -> Iterator[KubeApiServer]:
    """A sandbox API server seeded with Kubeflow's istio-system, and KUBECONFIG pointing at it.

    The ALB controller's webhooks answer once an installed controller is ready, as in a world.
    """
    server = KubeApiServer(deployment_ready_delay=0.05).start()
    alb_webhooks.attach(server.store)
    try:
        seed_kubeflow_cluster(server)
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        yield server
    finally:
        server.stop()


@pytest.fixture
def target(kube_server: KubeApiServer) -> KubeTarget:
    return KubeTarget.kubeconfig()


Seed = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def seed(kube_server: KubeApiServer) -> Seed:
    """Create or update an object as another tool would (no ownership labels unless given)."""

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = kube_server.store.apply(obj, field_manager=SEEDER, force=True)
        return result

    return apply
