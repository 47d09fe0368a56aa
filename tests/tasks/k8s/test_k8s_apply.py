"""Server-side apply against the sandbox API: created, then unchanged; changes and ownership."""

from __future__ import annotations

from typing import Any

import pytest

from core import naming
from core.errors import OwnershipError
from core.manifests import with_ownership
from tasks.k8s.apply import apply_objects, delete_objects, read
from tasks.k8s.clients import KubeTarget, connect

STACK = "platform-example-com"


def config_map(name: str, value: str = "1") -> dict[str, Any]:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kube-system"},
        "data": {"value": value},
    }
    return with_ownership(obj, STACK)


def crd_and_instance() -> list[dict[str, Any]]:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "singular": "widget",
                "listKind": "WidgetList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
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
    # The instance comes first on purpose: apply must put the CRD first and wait for its kind.
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "one", "namespace": "ignored-for-cluster-scope"},
        "spec": {"size": 3},
    }
    return [with_ownership(widget, STACK), with_ownership(crd, STACK)]


def test_create_then_second_apply_changes_nothing(target: KubeTarget) -> None:
    objects = [*crd_and_instance(), config_map("settings")]
    with connect(target) as kube:
        first = apply_objects(kube, objects, stack=STACK)
        assert [item.key for item in first.objects] == [
            "CustomResourceDefinition widgets.example.com",
            "ConfigMap kube-system/settings",
            "Widget one",
        ]
        assert first.of("created") == tuple(item.key for item in first.objects)
    with connect(target) as kube:  # a new connection, as a re-run would make
        second = apply_objects(kube, objects, stack=STACK)
        assert second.of("unchanged") == tuple(item.key for item in first.objects)
        assert not second.changed
        live = read(kube, objects[0])
        assert live is not None
        assert live["spec"] == {"size": 3}
        managers = {entry["manager"] for entry in live["metadata"]["managedFields"]}
        assert managers == {naming.FIELD_MANAGER}


def test_only_the_changed_object_is_reported_changed(target: KubeTarget) -> None:
    with connect(target) as kube:
        apply_objects(kube, [config_map("a"), config_map("b")], stack=STACK)
        report = apply_objects(kube, [config_map("a"), config_map("b", "2")], stack=STACK)
        assert report.of("changed") == ("ConfigMap kube-system/b",)
        assert report.of("unchanged") == ("ConfigMap kube-system/a",)
        live = read(kube, config_map("b"))
        assert live is not None
        assert live["data"] == {"value": "2"}


def test_objects_of_others_are_refused_before_any_write(target: KubeTarget, seed: Any) -> None:
    seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "theirs", "namespace": "kube-system"},
        }
    )
    with connect(target) as kube:
        with pytest.raises(OwnershipError, match="ConfigMap kube-system/theirs"):
            apply_objects(kube, [config_map("mine"), config_map("theirs")], stack=STACK)
        assert read(kube, config_map("mine")) is None  # nothing was written
        adopted = apply_objects(kube, [config_map("theirs")], stack=STACK, adopt=True)
        assert adopted.of("changed") == ("ConfigMap kube-system/theirs",)


def test_delete_removes_only_ours(target: KubeTarget, seed: Any) -> None:
    seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "theirs", "namespace": "kube-system"},
        }
    )
    with connect(target) as kube:
        apply_objects(kube, [config_map("mine")], stack=STACK)
        deleted, left = delete_objects(
            kube, [config_map("mine"), config_map("theirs"), config_map("gone")], stack=STACK
        )
        assert deleted == ("ConfigMap kube-system/mine",)
        assert left == ("ConfigMap kube-system/theirs",)
        assert read(kube, config_map("mine")) is None
        assert read(kube, config_map("theirs")) is not None
        assert delete_objects(kube, [config_map("mine")], stack=STACK) == ((), ())
