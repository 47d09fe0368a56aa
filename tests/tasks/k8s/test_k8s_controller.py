"""The ALB controller: detecting Helm and EKS Auto Mode installs, installing ours, removing it."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import KubernetesError, PreflightError, WaitTimeout
from core.waiting import wait_until
from sandbox.kube.server import KubeApiServer
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import delete_controller, ensure_controller, observe_controller

STACK = "platform-example-com"
INSTALL = {
    "stack": STACK,
    "cluster_name": "kubeflow",
    "region": "us-west-2",
    "vpc_id": "vpc-0abc",
    "role_arn": "arn:aws:iam::111122223333:role/kfalb-platform-example-com-lbc",
}


def ingress_class(name: str, controller: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {"controller": controller},
    }


def helm_deployment() -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": "aws-load-balancer-controller",
        "app.kubernetes.io/instance": "lbc",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "aws-load-balancer-controller",
            "namespace": "kube-system",
            "labels": labels,
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.8.1",
                        }
                    ]
                },
            },
        },
    }


def ready_helm_install(seed: Any, server: KubeApiServer) -> None:
    """An LBC installed by Helm: its IngressClass and a Deployment the sandbox has made ready."""
    seed(ingress_class("alb", "ingress.k8s.aws/alb"))
    seed(helm_deployment())
    wait_until(
        lambda: server.store.get(
            "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
        ),
        lambda live: (live.get("status") or {}).get("readyReplicas", 0) >= 1,
        what="the Helm controller Deployment to be ready",
        timeout=5,
        interval=0.01,
    )


def secret_cert(server: KubeApiServer) -> str:
    secret = server.store.get("v1", "Secret", "aws-load-balancer-webhook-tls", "kube-system")
    return str(secret["data"]["tls.crt"])


def test_empty_cluster_has_no_controller(target: KubeTarget) -> None:
    state = observe_controller.fn(target, STACK)
    assert state.provider == "none"
    assert not state.usable


def test_auto_uses_a_helm_installed_controller(
    target: KubeTarget, seed: Any, kube_server: KubeApiServer
) -> None:
    ready_helm_install(seed, kube_server)
    outcome = ensure_controller.fn(target, mode="auto", **INSTALL)
    assert (outcome.provider, outcome.ingress_class, outcome.installed) == (
        "aws-load-balancer-controller",
        "alb",
        False,
    )
    assert outcome.applied is None
    assert (
        kube_server.store.find("v1", "Secret", "aws-load-balancer-webhook-tls", "kube-system")
        is None
    )


def test_auto_uses_eks_auto_mode_without_a_deployment(target: KubeTarget, seed: Any) -> None:
    seed(ingress_class("web", "nginx.org/ingress-controller"))
    seed(ingress_class("auto-alb", "eks.amazonaws.com/alb"))
    state = observe_controller.fn(target, STACK)
    assert (state.provider, state.ingress_class, state.deployment) == (
        "eks-auto-mode",
        "auto-alb",
        None,
    )
    outcome = ensure_controller.fn(target, mode="auto", **INSTALL)
    assert (outcome.provider, outcome.ingress_class, outcome.installed) == (
        "eks-auto-mode",
        "auto-alb",
        False,
    )


def test_auto_refuses_a_broken_helm_install(
    target: KubeTarget, seed: Any, kube_server: KubeApiServer
) -> None:
    kube_server.controllers.set_enabled(False)  # its Deployment never becomes ready
    seed(ingress_class("alb", "ingress.k8s.aws/alb"))
    seed(helm_deployment())
    with pytest.raises(PreflightError, match="no ready controller Deployment"):
        ensure_controller.fn(target, mode="auto", **INSTALL)


def test_install_then_rerun_changes_nothing_and_keeps_the_webhook_certificate(
    target: KubeTarget, kube_server: KubeApiServer
) -> None:
    first = ensure_controller.fn(target, mode="auto", **INSTALL)
    assert (first.provider, first.ingress_class, first.installed) == (
        "aws-load-balancer-controller",
        "alb",
        True,
    )
    assert first.applied is not None
    assert len(first.applied.of("created")) == 17  # v3.5.0: with its 3 gateway.k8s.aws CRDs
    cert = secret_cert(kube_server)
    deployment = kube_server.store.get(
        "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
    )
    assert (
        "--aws-vpc-id=vpc-0abc" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    state = observe_controller.fn(target, STACK)
    assert state.owned
    assert state.ready_replicas >= 1

    again = ensure_controller.fn(target, mode="auto", **INSTALL)
    assert again.installed
    assert again.applied is not None
    assert not again.applied.changed
    assert secret_cert(kube_server) == cert


def test_install_timeout_shows_the_deployment_state(
    target: KubeTarget, kube_server: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough for its five CRDs to be served (v3.5.0's gateway ones are large), so the
    # wait that ends is the Deployment's.
    monkeypatch.setenv("KFALB_CONTROLLER_TIMEOUT_SECONDS", "3")
    kube_server.controllers.set_enabled(False)
    with pytest.raises(
        WaitTimeout, match=r"aws-load-balancer-controller to be ready.*readyReplicas=0"
    ):
        ensure_controller.fn(target, mode="install", **INSTALL)


def test_install_refuses_objects_of_a_helm_release(target: KubeTarget, seed: Any) -> None:
    seed(helm_deployment())
    with pytest.raises(
        Exception, match="Deployment kube-system/aws-load-balancer-controller"
    ) as raised:
        ensure_controller.fn(target, mode="install", **INSTALL)
    assert type(raised.value).__name__ == "OwnershipError"


def test_skip_leaves_the_cluster_alone(target: KubeTarget, kube_server: KubeApiServer) -> None:
    outcome = ensure_controller.fn(target, mode="skip", **INSTALL)
    assert (outcome.provider, outcome.ingress_class, outcome.installed) == ("none", "alb", False)
    assert kube_server.store.find("networking.k8s.io/v1", "IngressClass", "alb") is None


def test_delete_removes_our_controller_only_when_unused(
    target: KubeTarget, seed: Any, kube_server: KubeApiServer
) -> None:
    ensure_controller.fn(target, mode="install", **INSTALL)
    binding = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "k8s-istiosys-istioing-0123456789", "namespace": "istio-system"},
        "spec": {
            "serviceRef": {"name": "istio-ingressgateway", "port": 80},
            "targetGroupARN": "arn:tg",
        },
    }
    seed(binding)
    with pytest.raises(KubernetesError, match="1 TargetGroupBindings"):
        delete_controller.fn(target, STACK)
    kube_server.store.delete(
        "elbv2.k8s.aws/v1beta1", "TargetGroupBinding", binding["metadata"]["name"], "istio-system"
    )

    report = delete_controller.fn(target, STACK)
    assert len(report.deleted) == 17
    assert report.deleted[0].endswith("WebhookConfiguration aws-load-balancer-webhook")
    assert report.left == ()
    assert (
        kube_server.store.find(
            "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
        )
        is None
    )
    assert delete_controller.fn(target, STACK).deleted == ()


def test_delete_leaves_a_helm_install_alone(
    target: KubeTarget, seed: Any, kube_server: KubeApiServer
) -> None:
    seed(ingress_class("alb", "ingress.k8s.aws/alb"))
    seed(helm_deployment())
    report = delete_controller.fn(target, STACK)
    assert report.deleted == ()
    assert set(report.left) == {
        "IngressClass alb",
        "Deployment kube-system/aws-load-balancer-controller",
    }
    assert (
        kube_server.store.find(
            "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
        )
        is not None
    )


def test_auto_repairs_our_install_when_its_deployment_was_deleted(
    target: KubeTarget, kube_server: KubeApiServer
) -> None:
    ensure_controller.fn(target, mode="install", **INSTALL)
    kube_server.store.delete("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    state = observe_controller.fn(target, STACK)
    assert (state.provider, state.owned, state.deployment) == ("none", True, None)
    repaired = ensure_controller.fn(target, mode="auto", **INSTALL)
    assert repaired.applied is not None
    assert repaired.applied.of("created") == (
        "Deployment kube-system/aws-load-balancer-controller",
    )
