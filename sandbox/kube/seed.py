"""Seed data: the parts of a Kubeflow cluster the load-balancer flows expect to find."""

from __future__ import annotations

from typing import Any

from .store import ObjectStore

SEED_MANAGER = "sandbox-seed"
_GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}


def kubeflow_objects() -> list[dict[str, Any]]:
    """Namespaces, and the istio-ingressgateway Service and Deployment in istio-system."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in ("kube-system", "default", "istio-system", "kubeflow")
    ]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "istio-ingressgateway",
                "namespace": "istio-system",
                "labels": dict(_GATEWAY_LABELS),
            },
            "spec": {
                "type": "NodePort",
                "selector": dict(_GATEWAY_LABELS),
                "ports": [
                    {"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
                    {"name": "http2", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                    {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
                ],
            },
        }
    )
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "istio-ingressgateway",
                "namespace": "istio-system",
                "labels": dict(_GATEWAY_LABELS),
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(_GATEWAY_LABELS)},
                "template": {
                    "metadata": {"labels": dict(_GATEWAY_LABELS)},
                    "spec": {
                        "containers": [
                            {
                                "name": "istio-proxy",
                                "image": "docker.io/istio/proxyv2:1.24.2",
                                "ports": [
                                    {"name": "http2", "containerPort": 8080},
                                    {"name": "https", "containerPort": 8443},
                                    {"name": "status-port", "containerPort": 15021},
                                ],
                            }
                        ],
                    },
                },
            },
        }
    )
    return objects


def seed_kubeflow_cluster(target: Any) -> None:
    """Apply the Kubeflow seed to a :class:`KubeApiServer` or an :class:`ObjectStore`.

    Applying is idempotent, so seeding twice changes nothing. The gateway Deployment becomes
    ready through the controllers (after ``deployment_ready_delay``), and its Endpoints follow.
    """
    store: ObjectStore = target.store if hasattr(target, "store") else target
    for obj in kubeflow_objects():
        store.apply(obj, field_manager=SEED_MANAGER, force=True)


def helm_controller_objects() -> list[dict[str, Any]]:
    """A controller installed by Helm, outside the flow (the sandbox's "preinstalled" mode)."""
    labels = {
        "app.kubernetes.io/name": "aws-load-balancer-controller",
        "app.kubernetes.io/managed-by": "Helm",
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "aws-load-balancer-controller",
                "namespace": "kube-system",
                "labels": labels,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "aws-load-balancer-controller",
                "namespace": "kube-system",
                "labels": labels,
            },
            "spec": {
                "replicas": 1,
                "selector": {
                    "matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}
                },
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "aws-load-balancer-controller",
                        "containers": [
                            {
                                "name": "controller",
                                "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0",
                            }
                        ],
                    },
                },
            },
        },
    ]
