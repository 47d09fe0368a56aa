"""The Kubernetes stand-in through the official Python client (typed APIs, dynamic client, watch)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from sandbox.kube import KubeApiServer, seed_kubeflow_cluster

T = TypeVar("T")

# A schema that keeps every field: these tests are about serving, not about pruning.
_OPEN_SCHEMA = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


@pytest.fixture(scope="module")
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(deployment_ready_delay=0.05) as running:
        seed_kubeflow_cluster(running)
        yield running


@pytest.fixture(scope="module")
def api_client(server: KubeApiServer, tmp_path_factory: pytest.TempPathFactory) -> client.ApiClient:
    path = server.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    return config.new_client_from_config(str(path))


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def _eventually(fetch: Callable[[], T], accept: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Poll until ``accept`` holds (the controllers run in their own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _deployment(name: str, namespace: str, *, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.27",
                            "ports": [{"name": "https", "containerPort": 9443}],
                            "env": [{"name": "A", "value": "1"}],
                        }
                    ]
                },
            },
        },
    }


def _dynamic(api_client: client.ApiClient, tmp_path: Path) -> DynamicClient:
    """A dynamic client with its own discovery cache (the default file is shared per host:port)."""
    return DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))


def test_version_and_discovery(api_client: client.ApiClient, tmp_path: Path) -> None:
    version = client.VersionApi(api_client).get_code()
    assert version.git_version.startswith("v1.37")
    assert version.build_date
    dynamic = _dynamic(api_client, tmp_path)
    ingress = dynamic.resources.get(api_version="networking.k8s.io/v1", kind="Ingress")
    assert ingress.namespaced
    assert "ing" in ingress.short_names


def test_seeded_gateway_has_endpoints(core: client.CoreV1Api) -> None:
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"kube-system", "default", "istio-system", "kubeflow"} <= names
    service = core.read_namespaced_service("istio-ingressgateway", "istio-system")
    assert {(p.name, p.port) for p in service.spec.ports} >= {("http2", 80), ("https", 443)}
    endpoints = _eventually(
        lambda: core.read_namespaced_endpoints("istio-ingressgateway", "istio-system"),
        lambda e: bool(e.subsets),
    )
    assert {p.port for p in endpoints.subsets[0].ports} == {8080, 8443, 15021}


def test_errors_are_status_objects(core: client.CoreV1Api, namespace: str) -> None:
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", namespace)
    assert (missing.value.status, missing.value.reason) == (404, "Not Found")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    assert exists.value.status == 409
    assert '"AlreadyExists"' in exists.value.body
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "Not_Valid"}})
    assert invalid.value.status == 422


def test_patch_kinds(core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}, "data": {"x": "1"}})
    merged = core.patch_namespaced_config_map(
        "a",
        namespace,
        {"data": {"x": None, "y": "2"}},
        _content_type="application/merge-patch+json",
    )
    assert merged.data == {"y": "2"}
    patched = core.patch_namespaced_config_map(
        "a", namespace, [{"op": "add", "path": "/data/z", "value": "3"}]
    )
    assert patched.data == {"y": "2", "z": "3"}
    apps.create_namespaced_deployment(namespace, _deployment("web", namespace))
    strategic = apps.patch_namespaced_deployment(
        "web",
        namespace,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
                }
            }
        },
    )
    (container,) = strategic.spec.template.spec.containers
    assert container.image == "nginx:1.27"
    assert [(e.name, e.value) for e in container.env] == [("A", "1"), ("B", "2")]
    assert strategic.metadata.generation == 2


def test_server_side_apply_with_the_dynamic_client(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    deployments = _dynamic(api_client, tmp_path).resources.get(
        api_version="apps/v1", kind="Deployment"
    )
    body = _deployment("ssa", namespace)
    first = deployments.server_side_apply(body, field_manager="kfalb")
    assert [e.manager for e in first.metadata.managedFields] == ["kfalb"]
    # The controller writes status while rolling out; compare once it has settled.
    settled = _eventually(
        lambda: deployments.get(name="ssa", namespace=namespace),
        lambda d: d.status is not None and (d.status.readyReplicas or 0) == 1,
    )
    again = deployments.server_side_apply(body, field_manager="kfalb")
    assert again.metadata.resourceVersion == settled.metadata.resourceVersion
    body["spec"]["replicas"] = 3
    with pytest.raises(ApiException) as conflict:
        deployments.server_side_apply(body, field_manager="someone-else")
    assert conflict.value.status == 409
    forced = deployments.server_side_apply(body, field_manager="someone-else", force_conflicts=True)
    assert forced.spec.replicas == 3


def test_status_subresource(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "marker"}})
    apps.create_namespaced_deployment(namespace, _deployment("web", namespace))
    apps.patch_namespaced_deployment("web", namespace, {"status": {"replicas": 42}})
    assert (apps.read_namespaced_deployment("web", namespace).status.replicas or 0) != 42
    status = apps.patch_namespaced_deployment_status(
        "web", namespace, {"status": {"conditions": [{"type": "Custom", "status": "True"}]}}
    )
    assert any(c.type == "Custom" for c in status.status.conditions)
    ingress = client.NetworkingV1Api(core.api_client).create_namespaced_ingress(
        namespace,
        {
            "metadata": {"name": "ing"},
            "spec": {"ingressClassName": "alb", "defaultBackend": _BACKEND},
        },
    )
    assert ingress.status.load_balancer is not None


def test_watch_replays_changes_after_a_resource_version(
    core: client.CoreV1Api, namespace: str
) -> None:
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("w", namespace, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", namespace)
    watcher = watch.Watch()
    events = []
    for event in watcher.stream(
        core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=5
    ):
        events.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            watcher.stop()
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_version_lists_then_follows(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}})
    watcher = watch.Watch()
    seen = []
    for event in watcher.stream(core.list_namespaced_config_map, namespace, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "before":
            core.create_namespaced_config_map(namespace, {"metadata": {"name": "after"}})
        else:
            watcher.stop()
    assert seen == [("ADDED", "before"), ("ADDED", "after")]


def test_finalizers_and_namespace_cascade(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "plain"}})
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "held", "finalizers": ["example.com/x"]}}
    )
    core.delete_namespaced_config_map(
        "held", namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    held = core.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.delete_namespace(namespace)
    assert core.read_namespace(namespace).status.phase == "Terminating"
    # The namespace controller empties it later; the held object keeps it Terminating.
    remaining = _eventually(
        lambda: [c.metadata.name for c in core.list_namespaced_config_map(namespace).items],
        lambda names: names == ["held"],
    )
    assert remaining == ["held"]
    assert core.read_namespace(namespace).status.phase == "Terminating"
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    left = _eventually(
        lambda: [n.metadata.name for n in core.list_namespace().items],
        lambda names: namespace not in names,
    )
    assert namespace not in left


def test_deployment_becomes_ready_and_service_gets_endpoints(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, _deployment("hook", namespace, replicas=2))
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "hook"},
            "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": "https"}]},
        },
    )
    ready = _eventually(
        lambda: apps.read_namespaced_deployment_status("hook", namespace),
        lambda d: d.status.ready_replicas == 2,
    )
    assert ready.status.observed_generation == ready.metadata.generation
    endpoints = _eventually(
        lambda: core.read_namespaced_endpoints("hook", namespace), lambda e: bool(e.subsets)
    )
    assert len(endpoints.subsets[0].addresses) == 2
    assert endpoints.subsets[0].ports[0].port == 9443  # the named target port, resolved


def test_crd_then_custom_resource(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "ingressclassparams.elbv2.k8s.aws"},
        "spec": {
            "group": "elbv2.k8s.aws",
            "scope": "Cluster",
            "names": {"kind": "IngressClassParams", "plural": "ingressclassparams"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": _OPEN_SCHEMA},
                }
            ],
        },
    }
    extensions = client.ApiextensionsV1Api(api_client)
    extensions.create_custom_resource_definition(crd)
    established = _eventually(
        lambda: extensions.read_custom_resource_definition(crd["metadata"]["name"]),
        lambda c: any(x.type == "Established" and x.status == "True" for x in c.status.conditions),
    )
    assert established.status.accepted_names.kind == "IngressClassParams"
    params = _dynamic(api_client, tmp_path).resources.get(
        api_version="elbv2.k8s.aws/v1beta1", kind="IngressClassParams"
    )
    body = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "IngressClassParams",
        "metadata": {"name": "alb"},
        "spec": {"scheme": "internet-facing"},
    }
    created = params.server_side_apply(body, field_manager="kfalb")
    assert created.spec.scheme == "internet-facing"
    custom = client.CustomObjectsApi(api_client)
    listed = custom.list_cluster_custom_object("elbv2.k8s.aws", "v1beta1", "ingressclassparams")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["alb"]


def test_pagination(core: client.CoreV1Api, namespace: str) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    first = core.list_namespaced_config_map(namespace, limit=2)
    rest = core.list_namespaced_config_map(namespace, limit=2, _continue=first.metadata._continue)
    names = [i.metadata.name for i in first.items + rest.items]
    assert names == ["a", "b", "c"]


def _raw(
    server: KubeApiServer, method: str, path: str, body: bytes, content_type: str
) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method=method,
        headers={"Content-Type": content_type, "Authorization": "Bearer sandbox-token"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:
        return json.loads(error.read())  # type: ignore[no-any-return]


def test_bad_requests_get_the_right_status(server: KubeApiServer, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    _raw(server, "POST", base, b'{"metadata": {"name": "a"}}', "application/json")
    wrong_method = _raw(server, "POST", f"{base}/a", b"{}", "application/json")
    assert (wrong_method["code"], wrong_method["reason"]) == (405, "MethodNotAllowed")
    wrong_type = _raw(server, "PATCH", f"{base}/a", b"{}", "text/plain")
    assert (wrong_type["code"], wrong_type["reason"]) == (415, "UnsupportedMediaType")
    not_json = _raw(server, "PATCH", f"{base}/a", b"{nope", "application/merge-patch+json")
    assert (not_json["code"], not_json["reason"]) == (400, "BadRequest")
    no_manager = _raw(server, "PATCH", f"{base}/a", b"{}", "application/apply-patch+yaml")
    assert no_manager["code"] == 422
    unknown = _raw(
        server, "GET", f"/api/v1/namespaces/{namespace}/widgets", b"", "application/json"
    )
    assert (unknown["code"], unknown["reason"]) == (404, "NotFound")
    # A group the server does not serve gets the Go mux's plain-text 404, not a Status.
    request = urllib.request.Request(server.url + "/apis/example.com/v1/widgets")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=5)
    assert missing.value.code == 404
    assert missing.value.read() == b"404 page not found\n"


def test_wrong_token_is_unauthorized(server: KubeApiServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(tmp_path / "config", token="wrong")
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(config.new_client_from_config(str(path))).list_namespace()
    assert denied.value.status == 401
