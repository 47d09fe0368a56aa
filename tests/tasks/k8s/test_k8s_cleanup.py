"""Cleanup without a controller: our objects found by labels, stale webhooks, a stuck Ingress."""

from __future__ import annotations

from typing import Any

import pytest

from core import naming
from core.errors import KfalbError, OwnershipError
from core.waiting import wait_until
from sandbox.kube.server import KubeApiServer
from tasks.k8s.cleanup import (
    ALB_FINALIZER,
    BINDING_FINALIZER,
    delete_stale_webhooks,
    find_controller_objects,
    find_ingress_bindings,
    release_ingress,
)
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import ensure_controller
from tasks.k8s.ingress import ensure_ingress, observe_ingress
from tests.tasks.k8s.ingress_fixture import desired_ingress

STACK = "platform-example-com"
INSTALL = {
    "stack": STACK,
    "cluster_name": "kubeflow",
    "region": "us-west-2",
    "vpc_id": "vpc-0abc",
    "role_arn": "arn:aws:iam::111122223333:role/kfalb-platform-example-com-lbc",
}
BINDING = {
    "apiVersion": "elbv2.k8s.aws/v1beta1",
    "kind": "TargetGroupBinding",
    "metadata": {"name": "k8s-istiosys-tg", "namespace": "istio-system", "labels": {
        "ingress.k8s.aws/stack-namespace": "istio-system",
        "ingress.k8s.aws/stack-name": "istio-ingress"}, "finalizers": [BINDING_FINALIZER]},
    "spec": {"serviceRef": {"name": "istio-ingressgateway", "port": 80}, "targetType": "ip",
             "targetGroupARN": "arn:aws:elasticloadbalancing:us-west-2:111122223333:targetgroup/x/1"},
}  # fmt: skip
WEBHOOKS = (
    "MutatingWebhookConfiguration aws-load-balancer-webhook",
    "ValidatingWebhookConfiguration aws-load-balancer-webhook",
)


def _ingress_with_finalizer(target: KubeTarget) -> None:
    ingress: dict[str, Any] = desired_ingress(
        stack=STACK,
        certificate_arns=("arn:aws:acm:us-west-2:111122223333:certificate/0123",),
        scheme="internet-facing",
        tags=naming.ownership_tags(STACK),
    )
    ingress["metadata"]["finalizers"] = [ALB_FINALIZER]
    ensure_ingress.fn(target, ingress, stack=STACK)


def test_a_stuck_ingress_is_released_once_our_dead_webhooks_are_gone(
    target: KubeTarget, kube_server: KubeApiServer, seed: Any
) -> None:
    ensure_controller.fn(target, mode="install", **INSTALL)
    _ingress_with_finalizer(target)
    seed(BINDING)  # as the controller makes one for the Ingress's backend
    assert find_ingress_bindings.fn(target) == ("TargetGroupBinding istio-system/k8s-istiosys-tg",)
    found = find_controller_objects.fn(target, STACK)
    assert "Deployment kube-system/aws-load-balancer-controller" in found
    assert set(WEBHOOKS) <= set(found)
    assert find_controller_objects.fn(target, "another-stack") == ()
    assert delete_stale_webhooks.fn(target, STACK) == ()  # the controller still answers

    store = kube_server.store
    store.delete("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    wait_until(
        lambda: store.get("v1", "Endpoints", "aws-load-balancer-webhook-service", "kube-system"),
        lambda endpoints: not any(s.get("addresses") for s in endpoints.get("subsets") or []),
        what="the webhook Service to lose its endpoints",
        timeout=10,
        interval=0.02,
    )
    with pytest.raises(KfalbError, match="failed calling webhook"):
        release_ingress.fn(target, stack=STACK)

    assert set(delete_stale_webhooks.fn(target, STACK)) == set(WEBHOOKS)
    assert release_ingress.fn(target, stack=STACK)
    assert observe_ingress.fn(target) is None
    assert find_ingress_bindings.fn(target) == ()
    assert release_ingress.fn(target, stack=STACK) is False
    left = find_controller_objects.fn(target, STACK)
    assert not set(WEBHOOKS) & set(left)
    assert "Deployment kube-system/aws-load-balancer-controller" not in left


def test_an_ingress_without_our_labels_is_not_released(target: KubeTarget, seed: Any) -> None:
    seed({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
          "metadata": {"name": "istio-ingress", "namespace": "istio-system",
                       "finalizers": [ALB_FINALIZER]},
          "spec": {"defaultBackend": {"service": {"name": "istio-ingressgateway",
                                                  "port": {"number": 80}}}}})  # fmt: skip
    with pytest.raises(OwnershipError, match="does not carry stack"):
        release_ingress.fn(target, stack=STACK)
    assert observe_ingress.fn(target) is not None
