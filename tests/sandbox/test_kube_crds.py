"""Custom resources as a real server serves them: Established after a delay, schema validation
and pruning, list-map merges in server-side apply; and the error bodies of apply, selectors and
watches."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.kube import ApiError, KubeApiServer, ObjectStore

_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["serviceRef"],
            "properties": {
                "targetType": {"type": "string", "enum": ["instance", "ip"]},
                "serviceRef": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                },
                "networking": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
            },
        }
    },
}
_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
    "spec": {
        "group": "elbv2.k8s.aws",
        "scope": "Namespaced",
        "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings"},
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": _SCHEMA},
            }
        ],
    },
}
_PATH = "/apis/elbv2.k8s.aws/v1beta1/namespaces/default/targetgroupbindings"


def _tgb(name: str = "tgb", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"serviceRef": {"name": "web", "port": 80}, **spec},
    }


def _send(
    server: KubeApiServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, bytes, list[str]]:
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get_all("Warning") or []
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get_all("Warning") or []


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    # No CRD is Established by itself during a test: each test says when.
    with KubeApiServer(crd_established_delay=3600, gc_delay=3600) as running:
        running.store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        )
        yield running


def _establish(server: KubeApiServer) -> None:
    server.store.crd_established_delay = 0
    server.store.establish_crds()


def test_a_custom_resource_before_its_crd_is_established_gets_the_plain_404(
    server: KubeApiServer,
) -> None:
    code, body, _ = _send(
        server, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", _CRD
    )
    assert code == 201
    conditions = {c["type"]: c for c in json.loads(body)["status"]["conditions"]}
    assert (conditions["Established"]["status"], conditions["Established"]["reason"]) == (
        "False",
        "Installing",
    )
    code, body, _ = _send(server, "POST", _PATH, _tgb())
    assert (code, body) == (404, b"404 page not found\n")
    _, groups, _ = _send(server, "GET", "/apis")
    assert "elbv2.k8s.aws" not in [g["name"] for g in json.loads(groups)["groups"]]
    _establish(server)
    code, body, _ = _send(server, "POST", _PATH, _tgb())
    assert code == 201


def test_custom_resources_are_validated_against_the_schema(server: KubeApiServer) -> None:
    server.store.create(_CRD)
    _establish(server)
    code, body, _ = _send(server, "POST", _PATH, _tgb(targetType="pod", serviceRef={"port": "x"}))
    status = json.loads(body)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'TargetGroupBinding.elbv2.k8s.aws "tgb" is invalid: ['
        'spec.serviceRef.port: Invalid value: "string": spec.serviceRef.port in body must be of '
        'type integer: "string", '
        'spec.targetType: Unsupported value: "pod": supported values: "instance", "ip"]'
    )
    missing = _tgb()
    del missing["spec"]["serviceRef"]
    code, body, _ = _send(server, "POST", _PATH, missing)
    assert json.loads(body)["message"].endswith("spec.serviceRef: Required value")


def test_unknown_custom_resource_fields_are_pruned_or_refused(server: KubeApiServer) -> None:
    server.store.create(_CRD)
    _establish(server)
    code, body, _ = _send(server, "POST", _PATH + "?fieldValidation=Strict", _tgb(extra=1))
    assert (code, json.loads(body)["message"]) == (
        400,
        'TargetGroupBinding in version "v1beta1" cannot be handled as a TargetGroupBinding: '
        'strict decoding error: unknown field "spec.extra"',
    )
    code, body, warnings = _send(server, "POST", _PATH, _tgb(extra=1))
    assert code == 201
    assert "extra" not in json.loads(body)["spec"]
    assert warnings == ['299 - "unknown field \\"spec.extra\\""']


def test_server_side_apply_merges_list_map_entries_of_two_managers() -> None:
    store = ObjectStore()
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    store.create(_CRD)
    store.apply(_tgb(networking=[{"name": "a", "port": 1}]), field_manager="one", force=False)
    merged = store.apply(
        _tgb(networking=[{"name": "b", "port": 2}]), field_manager="two", force=False
    )
    assert merged["spec"]["networking"] == [{"name": "a", "port": 1}, {"name": "b", "port": 2}]


def test_an_apply_conflict_names_the_field_and_the_manager() -> None:
    store = ObjectStore()
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
    }
    store.apply({**cm, "data": {"a": "1"}}, field_manager="first", force=False)
    with pytest.raises(ApiError) as conflict:
        store.apply({**cm, "data": {"a": "2"}}, field_manager="second", force=False)
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")
    assert conflict.value.message == 'Apply failed with 1 conflict: conflict with "first": .data.a'
    assert conflict.value.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "first"',
                "field": ".data.a",
            }
        ]
    }


def test_an_unsupported_field_selector_is_a_400(server: KubeApiServer) -> None:
    code, body, _ = _send(
        server, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=data.a%3D1"
    )
    assert (code, json.loads(body)["message"]) == (
        400,
        '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"',
    )
    code, body, _ = _send(
        server, "GET", "/api/v1/namespaces/default/secrets?fieldSelector=data.a%3D1"
    )
    assert (code, json.loads(body)["message"]) == (400, "field label not supported: data.a")
    code, _, _ = _send(server, "GET", "/api/v1/namespaces?fieldSelector=status.phase%3DActive")
    assert code == 200


def test_a_watch_from_a_forgotten_resource_version_gets_410_expired(server: KubeApiServer) -> None:
    store = server.store
    store._history._size = 2  # forget all but the last two changes
    for name in ("a", "b", "c", "d"):
        store.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"},
            }
        )
    code, body, _ = _send(
        server,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1",
    )
    assert code == 200
    event = json.loads(body.splitlines()[0])
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 1 (")
