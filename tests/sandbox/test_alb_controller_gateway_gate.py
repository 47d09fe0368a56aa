"""When the stand-in runs its ALB Gateway controller: as v3.5.0 decides at each start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config, dynamic

from sandbox.albcontroller.gateway_gate import GatewayGate
from sandbox.albcontroller.kube import Cluster
from sandbox.kube.server import KubeApiServer
from tests.sandbox.gateway_world import CRDS

BUNDLED = {"feature-gates": "NLBGatewayAPI=false,GatewayListenerSet=false"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KubeApiServer]:
    started = KubeApiServer(crd_established_delay=0.0).start()
    yield started
    started.stop()


@pytest.fixture
def cluster(server: KubeApiServer, tmp_path: Path) -> Cluster:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    cache = str(tmp_path / "discovery.json")
    return Cluster(dynamic.DynamicClient(client, cache_file=cache))  # type: ignore[no-untyped-call]


def deployment(generation: int, version: str = "v3.5.0") -> dict[str, Any]:
    image = f"public.ecr.aws/eks/aws-load-balancer-controller:{version}"
    return {
        "metadata": {"uid": "controller-uid", "generation": generation},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
    }


def install(server: KubeApiServer, only: set[str] | None = None) -> None:
    for path in CRDS:
        for obj in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            crd = bool(obj) and obj["kind"] == "CustomResourceDefinition"
            if crd and (only is None or obj["spec"]["names"]["kind"] in only):
                server.store.apply(obj, field_manager="test")


def test_the_gate_is_decided_when_the_controller_starts(
    server: KubeApiServer, cluster: Cluster
) -> None:
    gate = GatewayGate(cluster)
    assert not gate.enabled(deployment(1), BUNDLED)  # started before the CRDs: off
    install(server)
    assert not gate.enabled(deployment(1), BUNDLED)  # CRDs later: still off until a restart
    assert gate.enabled(deployment(2), BUNDLED)  # a rollout (new generation) detects them


def test_one_missing_kind_keeps_it_off(server: KubeApiServer, cluster: Cluster) -> None:
    install(server, only={"Gateway", "GatewayClass", "HTTPRoute", "LoadBalancerConfiguration",
                          "TargetGroupConfiguration", "ListenerRuleConfiguration"})  # fmt: skip
    gate = GatewayGate(cluster)
    assert not gate.enabled(deployment(1), BUNDLED)
    assert gate.missing() == ["GRPCRoute"]


@pytest.mark.parametrize(
    ("gates", "version", "on"),
    [
        ("ALBGatewayAPI=false,NLBGatewayAPI=false,GatewayListenerSet=false", "v3.5.0", False),
        ("ALBGatewayAPI=false", "v3.5.0", False),
        ("ALBGatewayAPI=true,NLBGatewayAPI=false,GatewayListenerSet=false", "v3.5.0", True),
        ("", "v3.5.0", True),
        ("", "v2.13.0", False),  # off by default before v3 (the preview)
    ],
)
def test_the_flags_decide_with_the_crds_present(
    server: KubeApiServer, cluster: Cluster, gates: str, version: str, on: bool
) -> None:
    install(server)
    assert GatewayGate(cluster).enabled(deployment(1, version), {"feature-gates": gates}) is on
