"""Tests of the Kubernetes stand-in's object store: versions, apply, status, finalizers, cascades."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.kube import ApiError, ObjectStore
from sandbox.kube.controllers import ControllerManager
from sandbox.kube.gc import GarbageCollector
from sandbox.kube.selectors import label_selector
from sandbox.kube.watch import INITIAL_EVENTS_END, Watcher


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _configmap(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def _deployment(name: str, *, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    store.create(_namespace("default"))
    return store


def test_create_sets_server_fields_and_get_returns_them(store: ObjectStore) -> None:
    created = store.create(_configmap("a", x="1"))
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    assert store.get("v1", "ConfigMap", "a", "default") == created


def test_missing_duplicate_and_missing_namespace_errors(store: ObjectStore) -> None:
    store.create(_configmap("a"))
    with pytest.raises(ApiError) as exists:
        store.create(_configmap("a"))
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as missing:
        store.get("v1", "ConfigMap", "nope", "default")
    assert (missing.value.code, missing.value.reason) == (404, "NotFound")
    with pytest.raises(ApiError) as no_ns:
        store.create(_configmap("b", namespace="elsewhere"))
    assert no_ns.value.code == 404
    assert store.find("v1", "ConfigMap", "nope", "default") is None


def test_label_and_field_selectors(store: ObjectStore) -> None:
    for name, labels in (("a", {"tier": "web"}), ("b", {"tier": "db"}), ("c", {})):
        obj = _configmap(name)
        obj["metadata"]["labels"] = labels
        store.create(obj)

    def names(**selectors: str) -> list[str]:
        items = store.list("v1", "ConfigMap", "default", **selectors)
        return [i["metadata"]["name"] for i in items]

    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier!=web") == ["b", "c"]
    assert names(label_selector="tier in (web, db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(label_selector="tier=web,tier!=db") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=default,metadata.name!=b") == ["a", "c"]


def test_noop_apply_keeps_resource_version_and_change_bumps_it(store: ObjectStore) -> None:
    first = store.apply(_deployment("web"), field_manager="me")
    again = store.apply(_deployment("web"), field_manager="me")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]
    changed = store.apply(_deployment("web", image="nginx:1.28"), field_manager="me")
    assert int(changed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert changed["metadata"]["generation"] == 2


def test_noop_update_and_patch_keep_resource_version(store: ObjectStore) -> None:
    created = store.create(_configmap("a", x="1"))
    assert (
        store.update(created)["metadata"]["resourceVersion"]
        == created["metadata"]["resourceVersion"]
    )
    rtype = store.resource_type("v1", "ConfigMap")
    same = store.mutate_object(rtype, "default", "a", lambda live: live, manager="patcher")
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def _drain(watcher: Watcher) -> list[tuple[str, str]]:
    events = []
    while (event := watcher.next(0)) is not None:
        events.append((event.type, event.object["metadata"].get("name", "")))
    return events


def test_watch_follows_objects_in_and_out_of_a_selector(store: ObjectStore) -> None:
    rtype = store.resource_type("v1", "ConfigMap")
    watcher = store.watch_objects(
        rtype, "default", label_selector("app=x"), resource_version=store.resource_version
    )
    obj = _configmap("a")
    obj["metadata"]["labels"] = {"app": "x"}
    created = store.create(obj)
    moved = store.update({**created, "metadata": {**created["metadata"], "labels": {"app": "y"}}})
    store.update({**moved, "metadata": {**moved["metadata"], "labels": {"app": "x"}}})
    store.delete("v1", "ConfigMap", "a", "default")
    assert _drain(watcher) == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a"), ("DELETED", "a")]
    store.stop_watch(watcher)


def test_watch_list_ends_initial_events_with_a_bookmark(store: ObjectStore) -> None:
    store.create(_configmap("a"))
    rtype = store.resource_type("v1", "ConfigMap")
    watcher = store.watch_objects(
        rtype, "default", lambda _: True, resource_version="", send_initial_events=True
    )
    first, bookmark = watcher.next(0), watcher.next(0)
    assert first is not None
    assert first.type == "ADDED"
    assert bookmark is not None
    assert bookmark.type == "BOOKMARK"
    assert bookmark.object["metadata"]["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert bookmark.object["metadata"]["resourceVersion"] == store.resource_version
    store.stop_watch(watcher)


def test_generation_counts_spec_changes_only(store: ObjectStore) -> None:
    store.apply(_deployment("web"), field_manager="me")
    labelled = _deployment("web")
    labelled["metadata"]["labels"] = {"team": "ml"}
    assert store.apply(labelled, field_manager="me")["metadata"]["generation"] == 1


def test_apply_removes_fields_the_manager_stopped_applying(store: ObjectStore) -> None:
    store.apply(_configmap("a", x="1", y="2"), field_manager="me")
    store.apply(_configmap("a", z="3"), field_manager="other")
    result = store.apply(_configmap("a", x="1"), field_manager="me")
    assert result["data"] == {"x": "1", "z": "3"}
    managers = {e["manager"] for e in result["metadata"]["managedFields"]}
    assert managers == {"me", "other"}


def test_apply_conflict_unless_forced(store: ObjectStore) -> None:
    store.apply(_configmap("a", x="1"), field_manager="me")
    with pytest.raises(ApiError) as conflict:
        store.apply(_configmap("a", x="2"), field_manager="other", force=False)
    assert conflict.value.code == 409
    assert '"me"' in conflict.value.message
    assert ".data.x" in conflict.value.message
    forced = store.apply(_configmap("a", x="2"), field_manager="other", force=True)
    assert forced["data"] == {"x": "2"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners == {"other": {"f:data": {"f:x": {}}}}


def test_update_with_stale_resource_version_conflicts(store: ObjectStore) -> None:
    created = store.create(_configmap("a", x="1"))
    store.update({**created, "data": {"x": "2"}})
    with pytest.raises(ApiError) as stale:
        store.update({**created, "data": {"x": "3"}})
    assert (stale.value.code, stale.value.reason) == (409, "Conflict")


def test_status_subresource_separates_spec_and_status(store: ObjectStore) -> None:
    created = store.create(_deployment("web"))
    assert "status" not in created or created["status"] == {}
    with_status = {**created, "status": {"replicas": 5}}
    updated = store.update(with_status)
    assert updated.get("status", {}).get("replicas") is None
    status_write = store.get("apps/v1", "Deployment", "web", "default")
    status_write["status"] = {"replicas": 5}
    status_write["spec"]["replicas"] = 9
    result = store.update_status(status_write)
    assert result["status"] == {"replicas": 5}
    assert result["spec"]["replicas"] == 1


def test_finalizers_hold_deletion_until_removed(store: ObjectStore) -> None:
    obj = _configmap("a")
    obj["metadata"]["finalizers"] = ["example.com/cleanup"]
    store.create(obj)
    assert store.delete("v1", "ConfigMap", "a", "default") is True
    pending = store.get("v1", "ConfigMap", "a", "default")
    assert pending["metadata"]["deletionTimestamp"]
    pending["metadata"]["finalizers"] = []
    store.update(pending)
    assert store.find("v1", "ConfigMap", "a", "default") is None
    assert store.delete("v1", "ConfigMap", "a", "default") is False


def test_namespace_deletion_cascades_and_waits_for_finalizers(store: ObjectStore) -> None:
    store.create(_namespace("team"))
    store.create(_configmap("plain", namespace="team"))
    held = _configmap("held", namespace="team")
    held["metadata"]["finalizers"] = ["example.com/cleanup"]
    store.create(held)
    collector = GarbageCollector(store, delay=0)
    store.delete("v1", "Namespace", "team")
    namespace = store.get("v1", "Namespace", "team")
    assert namespace["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as refused:
        store.create(_configmap("new", namespace="team"))
    assert refused.value.code == 403
    assert collector.collect()  # the namespace controller deletes contents, then waits
    assert store.find("v1", "ConfigMap", "plain", "team") is None
    assert store.find("v1", "Namespace", "team") is not None
    pending = store.get("v1", "ConfigMap", "held", "team")
    pending["metadata"]["finalizers"] = []
    store.update(pending)
    assert store.find("v1", "Namespace", "team") is not None
    assert not collector.collect()
    assert store.find("v1", "Namespace", "team") is None


def test_a_terminating_namespace_outlives_updates_until_empty(store: ObjectStore) -> None:
    store.create(_namespace("team"))
    held = _configmap("held", namespace="team")
    held["metadata"]["finalizers"] = ["example.com/cleanup"]
    store.create(held)
    store.delete("v1", "Namespace", "team")
    namespace = store.get("v1", "Namespace", "team")
    namespace["metadata"]["labels"]["touched"] = "yes"
    store.update(namespace)
    assert store.get("v1", "Namespace", "team")["metadata"]["labels"]["touched"] == "yes"


def test_system_namespaces_cannot_be_deleted(store: ObjectStore) -> None:
    with pytest.raises(ApiError) as refused:
        store.delete("v1", "Namespace", "default")
    assert refused.value.code == 403
    assert store.get("v1", "Namespace", "default")["status"]["phase"] == "Active"


def _crd(scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
        "spec": {
            "group": "elbv2.k8s.aws",
            "scope": scope,
            "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings"},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def test_crd_serves_its_kind_until_deleted(store: ObjectStore) -> None:
    tgb = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "tgb", "namespace": "default"},
        "spec": {"targetGroupARN": "arn:aws:elasticloadbalancing:::targetgroup/x/y"},
    }
    with pytest.raises(ApiError):
        store.create(tgb)
    crd = store.create(_crd())
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    store.create(tgb)
    assert store.resource_type("elbv2.k8s.aws/v1beta1", "TargetGroupBinding").has_status
    store.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"])
    assert store.registry.by_kind("elbv2.k8s.aws/v1beta1", "TargetGroupBinding") is None
    store.create(_crd())
    assert store.list("elbv2.k8s.aws/v1beta1", "TargetGroupBinding") == []


def test_custom_resource_status_subresource(store: ObjectStore) -> None:
    store.create(_crd())
    tgb = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "tgb", "namespace": "default"},
        "spec": {"targetType": "ip"},
        "status": {"observedGeneration": 7},
    }
    created = store.create(tgb)
    assert "status" not in created
    with_status = store.update_status({**created, "status": {"observedGeneration": 1}})
    assert with_status["status"] == {"observedGeneration": 1}
    applied = store.apply({**tgb, "spec": {"targetType": "instance"}}, field_manager="me")
    assert applied["status"] == {"observedGeneration": 1}
    assert applied["metadata"]["generation"] == 2


def test_invalid_deployment_is_rejected(store: ObjectStore) -> None:
    broken = _deployment("web")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiError) as invalid:
        store.create(broken)
    assert (invalid.value.code, invalid.value.reason) == (422, "Invalid")


def test_controllers_make_deployments_ready_and_fill_endpoints(store: ObjectStore) -> None:
    controllers = ControllerManager(store, deployment_ready_delay=0.0)
    store.create(_deployment("web", replicas=2))
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
        }
    )
    controllers.reconcile()
    status = store.get("apps/v1", "Deployment", "web", "default")["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == 2
    assert status["observedGeneration"] == 1
    assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == "True"
    endpoints = store.get("v1", "Endpoints", "web", "default")
    (subset,) = endpoints["subsets"]
    assert len(subset["addresses"]) == 2
    assert subset["ports"] == [{"port": 80, "protocol": "TCP", "name": "http"}]
    (endpoint_slice,) = store.list(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "default",
        label_selector="kubernetes.io/service-name=web",
    )
    assert len(endpoint_slice["endpoints"]) == 2
    rv = store.resource_version
    controllers.reconcile()
    assert store.resource_version == rv  # a settled world is left alone
    store.delete("v1", "Service", "web", "default")
    controllers.reconcile()
    assert store.find("v1", "Endpoints", "web", "default") is None


def test_deployment_waits_for_the_secrets_its_pods_mount(store: ObjectStore) -> None:
    controllers = ControllerManager(store, deployment_ready_delay=0.0)
    deployment = _deployment("web")
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "tls", "secret": {"secretName": "web-tls"}}]
    pod_spec["serviceAccountName"] = "web"
    store.create(deployment)
    store.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}})
    controllers.reconcile()
    assert "readyReplicas" not in store.get("apps/v1", "Deployment", "web", "default")["status"]
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-tls"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""},
        }
    )
    controllers.reconcile()
    assert store.get("apps/v1", "Deployment", "web", "default")["status"]["readyReplicas"] == 1
    assert store.find("v1", "ServiceAccount", "default", "default") is not None


def test_deployment_change_is_not_ready_until_the_delay_passed(store: ObjectStore) -> None:
    controllers = ControllerManager(store, deployment_ready_delay=3600.0)
    store.create(_deployment("web"))
    controllers.reconcile()
    status = store.get("apps/v1", "Deployment", "web", "default")["status"]
    assert status["observedGeneration"] == 1
    assert "readyReplicas" not in status
    assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == "False"
