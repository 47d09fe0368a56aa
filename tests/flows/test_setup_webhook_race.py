"""Setup against a controller that is ready before its webhook answers (the EKS race).

The sandbox API server calls the controller's vingress webhook on every Ingress write, as a real
one does; the world holds the webhook back to show the gap between a ready Deployment and a
serving webhook (or a control plane that cannot reach the nodes on 9443).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
INGRESS = ("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")


def _spec(name: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, rootCertificate=False)
    return StackSpec.model_validate(data)


def _dashboard_answers(spec: StackSpec) -> None:
    from core.settings import get_settings
    from tasks.https import probe

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok, answer.describe()


def test_setup_names_a_webhook_that_never_answers_and_a_rerun_waits_for_a_late_one(
    sandbox_world: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A webhook that never answers fails setup with its name and what to open, nothing
    half-applied; the rerun meets a webhook that answers late (the controller is ready, its
    webhook server is not yet), waits for it and converges."""
    from core.errors import WaitTimeout
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    world.alb_webhook(answering=False)
    monkeypatch.setenv("KFALB_WEBHOOK_TIMEOUT_SECONDS", "1")
    spec = _spec("webhook-race")
    with pytest.raises(WaitTimeout) as failed:
        setup_load_balancer(spec=spec)
    message = str(failed.value)
    assert "admission webhook 'vingress.elbv2.k8s.aws'" in message
    assert "dial tcp 127.0.0.1:9443: connect: connection refused" in message
    assert "TCP 9443" in message
    assert world.kube.store.find(*INGRESS) is None  # nothing half-applied
    assert world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"] == []

    monkeypatch.delenv("KFALB_WEBHOOK_TIMEOUT_SECONDS")
    world.alb_webhook(refuse=3)  # answering now, after three more refused connections
    refused_before = world.webhooks.refused
    task_logs = logging.getLogger("prefect.task_runs")  # Prefect's loggers do not propagate
    task_logs.addHandler(caplog.handler)
    try:
        setup_load_balancer(spec=spec)
    finally:
        task_logs.removeHandler(caplog.handler)
    assert world.webhooks.refused - refused_before == 3
    assert ("/validate-networking-v1-ingress", "CREATE") in world.webhooks.reviewed
    assert "admission webhook 'vingress.elbv2.k8s.aws' does not answer yet" in caplog.text
    (balancer,) = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert balancer["State"]["Code"] == "active"
    _dashboard_answers(spec)
