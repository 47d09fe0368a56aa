"""The Gateway API CRDs: installed where missing, kept when another tool's fit, refused with the
reason when they are too old; the controller is rolled to see new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core import naming
from core.errors import PreflightError
from sandbox.kube.server import KubeApiServer
from tasks.k8s.clients import KubeTarget
from tasks.k8s.gateway import ensure_gateway
from tasks.k8s.gateway_api import (
    RESTART_ANNOTATION,
    bundled_objects,
    delete_gateway_api,
    ensure_gateway_api,
    observe_gateway_api,
)

STACK = "platform-example-com"
CONTROLLER_CRDS = (
    Path(__file__).parents[3] / "deployments/aws-load-balancer-controller/v3.5.0/gateway-crds.yaml"
)
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def seed_controller_crds(server: KubeApiServer) -> None:
    for obj in yaml.load_all(CONTROLLER_CRDS.read_text(), Loader=yaml.CSafeLoader):
        server.store.apply(obj, field_manager="helm")


def crd_named(name: str) -> dict[str, Any]:
    return next(o for o in bundled_objects("v1.6.0") if o["metadata"]["name"] == name)


def test_a_cluster_without_them_gets_the_bundled_release(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    seed_controller_crds(kube_server)
    report = ensure_gateway_api.fn(target, stack=STACK)
    assert len(report.of("created")) == 12  # ten CRDs, the safe-upgrades policy and binding
    store = kube_server.store
    httproutes = store.get(*CRD, "httproutes.gateway.networking.k8s.io", "")
    assert (
        httproutes["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
        == "v1.6.0"
    )
    assert naming.is_owned(httproutes["metadata"]["labels"], STACK)
    again = ensure_gateway_api.fn(target, stack=STACK)
    assert again.of("created") == again.of("changed") == ()
    assert observe_gateway_api.fn(target).problem is None


def test_crds_of_another_tool_that_fit_are_kept(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    seed_controller_crds(kube_server)
    istio = crd_named("gateways.gateway.networking.k8s.io")
    istio["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = "v1.7.0"
    kube_server.store.apply(istio, field_manager="istio")
    report = ensure_gateway_api.fn(target, stack=STACK)
    assert "CustomResourceDefinition gateways.gateway.networking.k8s.io" not in report.of("created")
    kept = kube_server.store.get(*CRD, "gateways.gateway.networking.k8s.io", "")
    assert kept["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.7.0"
    assert not naming.is_owned(kept["metadata"].get("labels") or {}, STACK)


def test_older_crds_of_another_tool_are_refused_before_anything_is_applied(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    seed_controller_crds(kube_server)
    old = crd_named("httproutes.gateway.networking.k8s.io")
    old["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = "v1.4.0"
    kube_server.store.apply(old, field_manager="someone")
    with pytest.raises(PreflightError) as caught:
        ensure_gateway_api.fn(target, stack=STACK)
    assert "httproutes.gateway.networking.k8s.io (standard channel) is Gateway API v1.4.0" in (
        caught.value.message
    )
    assert kube_server.store.find(*CRD, "gateways.gateway.networking.k8s.io", "") is None


def test_the_objects_need_the_controllers_crds_too(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    ensure_gateway_api.fn(target, stack=STACK)  # works before the controller is installed
    objects = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "kf", "namespace": "istio-system"}},
        {"apiVersion": "gateway.k8s.aws/v1", "kind": "LoadBalancerConfiguration",
         "metadata": {"name": "kf", "namespace": "istio-system"}},
    ]  # fmt: skip
    with pytest.raises(PreflightError, match="gateway.k8s.aws/v1 LoadBalancerConfiguration"):
        ensure_gateway.fn(target, objects, stack=STACK)


def test_a_controller_kubeflow_alb_installed_is_rolled_to_see_them(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    seed_controller_crds(kube_server)
    labels = {"app.kubernetes.io/name": naming.CONTROLLER_NAME, **naming.ownership_labels("other")}
    kube_server.store.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": naming.CONTROLLER_NAME,
                "namespace": "kube-system",
                "labels": labels,
            },
            "spec": {
                "selector": {"matchLabels": {"app": "c"}},
                "template": {
                    "metadata": {"labels": {"app": "c"}},
                    "spec": {"containers": [{"name": "c", "image": "controller:v3.5.0"}]},
                },
            },
        },
        field_manager="kubeflow-alb",
    )
    ensure_gateway_api.fn(target, stack=STACK)
    deployment = kube_server.store.get(
        "apps/v1", "Deployment", naming.CONTROLLER_NAME, "kube-system"
    )
    assert deployment["spec"]["template"]["metadata"]["annotations"][RESTART_ANNOTATION] == "v1.6.0"
    assert deployment["metadata"]["generation"] == 2


def test_removal_waits_for_the_last_gateway_api_object(
    kube_server: KubeApiServer, target: KubeTarget
) -> None:
    seed_controller_crds(kube_server)
    ensure_gateway_api.fn(target, stack=STACK)
    kube_server.store.apply(
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "someone-elses"}, "spec": {"controllerName": "example.com/gw"}},
        field_manager="someone",
    )  # fmt: skip
    assert delete_gateway_api.fn(target, stack=STACK) == ()
    kube_server.store.delete("gateway.networking.k8s.io/v1", "GatewayClass", "someone-elses", "")
    deleted = delete_gateway_api.fn(target, stack=STACK)
    assert "CustomResourceDefinition httproutes.gateway.networking.k8s.io" in deleted
    assert kube_server.store.find(*CRD, "httproutes.gateway.networking.k8s.io", "") is None
