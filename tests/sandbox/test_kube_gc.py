"""Asynchronous deletion in the Kubernetes stand-in: propagation policies, the garbage collector
and Terminating namespaces, with the real answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.kube import ApiError, KubeApiServer, ObjectStore
from sandbox.kube.gc import GarbageCollector

KUBECTL = Path(sys.executable).parent / "kubectl"


def _configmap(name: str, *owners: dict[str, Any], **meta: Any) -> dict[str, Any]:
    refs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
            "blockOwnerDeletion": True,
        }
        for o in owners
    ]
    metadata = {"name": name, "namespace": "default", **meta}
    if refs:
        metadata["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return store


def _delete(store: ObjectStore, name: str, policy: str | None) -> tuple[dict[str, Any], bool]:
    rtype = store.resource_type("v1", "ConfigMap")
    return store.delete_object(rtype, "default", name, propagation=policy)


def test_foreground_deletion_waits_for_the_dependents(store: ObjectStore) -> None:
    owner = store.create(_configmap("owner"))
    store.create(_configmap("child", owner))
    collector = GarbageCollector(store, delay=0)
    answer, gone = _delete(store, "owner", "Foreground")
    assert not gone
    assert answer["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert answer["metadata"]["deletionTimestamp"]
    assert collector.collect()  # the dependent goes first
    assert store.find("v1", "ConfigMap", "child") is None
    assert store.find("v1", "ConfigMap", "owner") is not None
    assert not collector.collect()
    assert store.find("v1", "ConfigMap", "owner") is None


def test_orphan_deletion_keeps_the_dependents_without_the_reference(store: ObjectStore) -> None:
    owner = store.create(_configmap("owner"))
    store.create(_configmap("child", owner))
    collector = GarbageCollector(store, delay=0)
    answer, _ = _delete(store, "owner", "Orphan")
    assert answer["metadata"]["finalizers"] == ["orphan"]
    collector.collect()
    collector.collect()
    assert store.find("v1", "ConfigMap", "owner") is None
    assert "ownerReferences" not in store.get("v1", "ConfigMap", "child")["metadata"]


def test_background_deletion_collects_dependents_later(store: ObjectStore) -> None:
    owner = store.create(_configmap("owner"))
    other = store.create(_configmap("other"))
    store.create(_configmap("child", owner))
    store.create(_configmap("shared", owner, other))
    collector = GarbageCollector(store, delay=0)
    _, gone = _delete(store, "owner", None)
    assert gone
    assert store.find("v1", "ConfigMap", "child") is not None  # not yet: the collector is async
    collector.collect()
    assert store.find("v1", "ConfigMap", "child") is None
    # An object with an owner left only loses the reference to the one that is gone.
    shared = store.get("v1", "ConfigMap", "shared")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other"]


def test_the_collector_waits_its_delay(store: ObjectStore) -> None:
    owner = store.create(_configmap("owner"))
    store.create(_configmap("child", owner))
    collector = GarbageCollector(store, delay=3600)
    _delete(store, "owner", None)
    assert collector.collect()
    assert store.find("v1", "ConfigMap", "child") is not None


def test_a_terminating_namespace_refuses_new_content_with_the_real_403(store: ObjectStore) -> None:
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    answer, gone = store.delete_object(store.resource_type("v1", "Namespace"), "", "team")
    assert not gone
    assert answer["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as refused:
        store.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "namespace": "team"},
            }
        )
    assert (refused.value.code, refused.value.reason) == (403, "Forbidden")
    assert refused.value.message == (
        'configmaps "x" is forbidden: unable to create new content in namespace team '
        "because it is being terminated"
    )
    assert refused.value.details is not None
    assert refused.value.details["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace team is being terminated",
            "field": "metadata.namespace",
        }
    ]
    assert store.find("v1", "Namespace", "team") is not None  # empty, but not finalized yet
    GarbageCollector(store, delay=0).collect()
    assert store.find("v1", "Namespace", "team") is None


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer(gc_delay=3600) as running:  # nothing is collected during these tests
        running.store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        )
        yield running


def test_a_foreground_delete_answers_200_with_the_object(server: KubeApiServer) -> None:
    server.store.create(_configmap("owner"))
    request = urllib.request.Request(
        server.url + "/api/v1/namespaces/default/configmaps/owner",
        data=json.dumps({"propagationPolicy": "Foreground"}).encode(),
        method="DELETE",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        body = json.load(response)
    assert body["kind"] == "ConfigMap"
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_kubectl_sees_the_terminating_namespace(server: KubeApiServer, tmp_path: Path) -> None:
    server.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    env = {
        "KUBECONFIG": str(server.write_kubeconfig(tmp_path / "config")),
        "HOME": str(tmp_path),
        "KUBECACHEDIR": str(tmp_path / "cache"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=60
        )

    assert kubectl("delete", "namespace", "team", "--wait=false").returncode == 0
    phase = kubectl("get", "namespace", "team", "-o", "jsonpath={.status.phase}")
    assert phase.stdout == "Terminating"
    created = kubectl("create", "configmap", "x", "-n", "team")
    assert created.returncode == 1
    assert created.stderr.strip() == (
        'error: failed to create configmap: configmaps "x" is forbidden: unable to create new '
        "content in namespace team because it is being terminated"
    )
