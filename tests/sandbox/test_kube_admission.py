"""Tests of the Kubernetes stand-in's admission: a matching webhook must be reachable."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube import ApiError, ObjectStore
from sandbox.kube.controllers import ControllerManager


def _webhooks(**hook_fields: Any) -> dict[str, Any]:
    hook = {
        "name": "vingress.example.com",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {
            "service": {"name": "hook", "namespace": "kube-system", "path": "/validate"}
        },
        "rules": [
            {
                "apiGroups": ["networking.k8s.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["ingresses"],
            }
        ],
        **hook_fields,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "hooks"},
        "webhooks": [hook],
    }


def _ingress(name: str = "web", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {
            "ingressClassName": "alb",
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
        },
    }


def _hook_backend(store: ObjectStore) -> None:
    labels = {"app": "hook"}
    store.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hook", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "hook", "image": "hook:1"}]},
                },
            },
        }
    )


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    for name in ("default", "kube-system"):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "kube-system"},
            "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": 9443}]},
        }
    )
    return store


def test_webhook_without_endpoints_fails_matching_writes(store: ObjectStore) -> None:
    store.create(_webhooks())
    with pytest.raises(ApiError) as refused:
        store.create(_ingress())
    assert (refused.value.code, refused.value.reason) == (500, "InternalError")
    assert 'failed calling webhook "vingress.example.com"' in refused.value.message
    assert 'no endpoints available for service "hook"' in refused.value.message
    store.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "other", "namespace": "default"},
        }
    )


def test_ready_endpoints_with_nothing_listening_refuse_the_connection(store: ObjectStore) -> None:
    store.create(_webhooks())
    _hook_backend(store)
    ControllerManager(store, deployment_ready_delay=0.0).reconcile()
    with pytest.raises(ApiError) as refused:
        store.create(_ingress())
    assert (refused.value.code, refused.value.reason) == (500, "InternalError")
    assert refused.value.message == (
        'Internal error occurred: failed calling webhook "vingress.example.com": failed to call '
        'webhook: Post "https://hook.kube-system.svc:443/validate?timeout=10s": '
        "dial tcp 127.0.0.1:9443: connect: connection refused"
    )


def test_missing_service_is_reported(store: ObjectStore) -> None:
    webhooks = _webhooks()
    webhooks["webhooks"][0]["clientConfig"]["service"]["name"] = "absent"
    store.create(webhooks)
    with pytest.raises(ApiError) as refused:
        store.create(_ingress())
    assert 'service "absent" not found' in refused.value.message


def test_selectors_and_ignore_policy_let_writes_through(store: ObjectStore) -> None:
    store.create(
        _webhooks(
            objectSelector={
                "matchExpressions": [{"key": "owner", "operator": "NotIn", "values": ["us"]}]
            }
        )
    )
    store.create(_ingress("ours", labels={"owner": "us"}))
    with pytest.raises(ApiError):
        store.create(_ingress("theirs"))
    store.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "hooks")
    store.create(_webhooks(failurePolicy="Ignore"))
    store.create(_ingress("theirs"))


def test_status_writes_are_not_matched_by_a_main_resource_rule(store: ObjectStore) -> None:
    created = store.create(_ingress())
    store.create(_webhooks())
    status = {"loadBalancer": {"ingress": [{"hostname": "alb.example.com"}]}}
    updated = store.update_status({**created, "status": status})
    assert updated["status"] == status
    with pytest.raises(ApiError):
        store.update({**updated, "metadata": {**updated["metadata"], "labels": {"x": "y"}}})
