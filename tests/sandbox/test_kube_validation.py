"""The Kubernetes stand-in validates objects as kube-apiserver does: 422 Invalid with field causes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sandbox.kube import ApiError, ObjectStore


def _ingress(path: str = "/", path_type: str = "Prefix", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": path_type,
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    }
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


def _deployment(labels: dict[str, str], selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return store


def _refused(store: ObjectStore, body: dict[str, Any], *, update: bool = False) -> ApiError:
    with pytest.raises(ApiError) as caught:
        store.update(body) if update else store.create(body)
    return caught.value


def test_a_relative_prefix_path_is_invalid_with_the_real_message_and_cause(
    store: ObjectStore,
) -> None:
    error = _refused(store, _ingress(path="foo"))
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == (
        'Ingress.networking.k8s.io "x" is invalid: spec.rules[0].http.paths[0].path: '
        'Invalid value: "foo": must be an absolute path'
    )
    assert error.details == {
        "name": "x",
        "kind": "Ingress",
        "group": "networking.k8s.io",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "foo": must be an absolute path',
                "field": "spec.rules[0].http.paths[0].path",
            }
        ],
    }


def test_an_unknown_path_type_lists_the_supported_values(store: ObjectStore) -> None:
    error = _refused(store, _ingress(path_type="Regex"))
    assert error.message.endswith(
        'spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": '
        'supported values: "Exact", "ImplementationSpecific", "Prefix"'
    )
    assert error.details
    assert error.details["causes"][0]["reason"] == "FieldValueNotSupported"


def test_an_ingress_needs_rules_or_a_default_backend(store: ObjectStore) -> None:
    body = _ingress()
    del body["spec"]["rules"]
    error = _refused(store, body)
    assert error.message == (
        'Ingress.networking.k8s.io "x" is invalid: spec: Invalid value: '
        "[]networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
    )


def test_several_problems_are_listed_together(store: ObjectStore) -> None:
    body = _ingress(path="a//b")
    body["spec"]["rules"][0]["http"]["paths"][0]["backend"] = {"service": {"name": "Web"}}
    error = _refused(store, body)
    assert error.details is not None
    fields = [c["field"] for c in error.details["causes"]]
    assert fields == [
        "spec.rules[0].http.paths[0].path",
        "spec.rules[0].http.paths[0].path",
        "spec.rules[0].http.paths[0].backend.service.name",
        "spec.rules[0].http.paths[0].backend",
    ]
    assert error.message.startswith('Ingress.networking.k8s.io "x" is invalid: [')
    assert "port name or number is required" in error.message
    assert "a DNS-1035 label must consist of lower case alphanumeric characters" in error.message


def test_label_keys_and_values_are_checked(store: ObjectStore) -> None:
    body = _ingress()
    body["metadata"]["labels"] = {"bad key": "ok", "ok": "-bad"}
    error = _refused(store, body)
    assert error.details is not None
    messages = [c["message"] for c in error.details["causes"]]
    assert all(c["field"] == "metadata.labels" for c in error.details["causes"])
    assert messages[0].startswith('Invalid value: "bad key": name part must consist of')
    assert messages[1].startswith('Invalid value: "-bad": a valid label must be an empty string')


def test_names_follow_their_kind_rule(store: ObjectStore) -> None:
    error = _refused(
        store,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "1web", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    assert error.message.startswith(
        'Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label'
    )
    store.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "has.dots", "namespace": "default"},
        }
    )


def test_service_cluster_ip_is_immutable(store: ObjectStore) -> None:
    live = store.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    changed = copy.deepcopy(live)
    changed["spec"]["clusterIP"] = "10.96.9.9"
    changed["spec"]["clusterIPs"] = ["10.96.9.9"]
    error = _refused(store, changed, update=True)
    assert error.message == (
        'Service "web" is invalid: [spec.clusterIP: Invalid value: "10.96.9.9": field is immutable, '
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.9.9"}: may not change once set]'
    )


def test_deployment_selector_must_match_the_template_and_never_change(store: ObjectStore) -> None:
    error = _refused(store, _deployment({"app": "web"}, {"app": "other"}))
    assert error.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"web"}: `selector` does not match template `labels`'
    )
    live = store.create(_deployment({"app": "web", "tier": "a"}, {"app": "web"}))
    changed = copy.deepcopy(live)
    changed["spec"]["selector"] = {"matchLabels": {"tier": "a"}}
    error = _refused(store, changed, update=True)
    assert error.message == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        'v1.LabelSelector{MatchLabels:map[string]string{"tier":"a"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    )


def test_an_immutable_config_map_keeps_its_data(store: ObjectStore) -> None:
    live = store.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "frozen", "namespace": "default"},
            "data": {"a": "1"},
            "immutable": True,
        }
    )
    changed = copy.deepcopy(live)
    changed["data"] = {"a": "2"}
    error = _refused(store, changed, update=True)
    assert error.message == (
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
    changed = copy.deepcopy(live)
    changed["immutable"] = False
    assert "immutable: Forbidden" in _refused(store, changed, update=True).message


def test_secret_data_must_be_base64(store: ObjectStore) -> None:
    error = _refused(
        store,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"},
            "data": {"token": "abc!def"},
        },
    )
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


def test_a_v1_crd_without_a_schema_is_refused(store: ObjectStore) -> None:
    error = _refused(
        store,
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        },
    )
    assert error.message == (
        'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: '
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    )


def test_rbac_and_webhook_configurations_are_checked(store: ObjectStore) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
    }
    error = _refused(store, binding)
    assert error.message == (
        'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: ['
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole", '
        "subjects[0].namespace: Required value]"
    )
    hooks = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "h"},
        "webhooks": [
            {
                "name": "short",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "Some",
                "clientConfig": {"service": {"name": "s", "namespace": "n", "path": "x"}},
            }
        ],
    }
    error = _refused(store, hooks)
    assert error.details is not None
    assert [c["field"] for c in error.details["causes"]] == [
        "webhooks[0].name",
        "webhooks[0].sideEffects",
        "webhooks[0].clientConfig.service.path",
    ]


def test_validation_runs_before_admission_webhooks(store: ObjectStore) -> None:
    """A webhook that cannot be reached never hides a validation error."""
    store.create(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "hooks"},
            "webhooks": [
                {
                    "name": "vingress.example.com",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "clientConfig": {"service": {"name": "gone", "namespace": "default"}},
                    "rules": [
                        {
                            "apiGroups": ["networking.k8s.io"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["ingresses"],
                        }
                    ],
                }
            ],
        }
    )
    assert _refused(store, _ingress(path="foo")).code == 422
    assert _refused(store, _ingress()).code == 500
