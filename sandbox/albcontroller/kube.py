"""The controller's writes to the cluster: finalizers, status, TargetGroupBindings and Events.

Events aggregate as client-go's recorder does: the same reason and message on the same object
bump ``count`` and ``lastTimestamp`` of one Event instead of adding another.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from kubernetes import dynamic
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from sandbox.albcontroller.model import FINALIZER, StackModel

INGRESS = ("networking.k8s.io/v1", "Ingress")
BINDING = ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding")
BINDING_FINALIZER = "elbv2.k8s.aws/resources"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cluster:
    """Thin helpers over the dynamic client; objects go in and out as plain dicts."""

    def __init__(self, client: dynamic.DynamicClient) -> None:
        self._client = client
        self._events: dict[tuple[str, str, str, str], tuple[str, int]] = {}

    def invalidate_discovery(self) -> None:
        """Forget the served kinds (CRDs come and go)."""
        self._client.resources.invalidate_cache()

    def api(self, api_version: str, kind: str) -> Any:
        return self._client.resources.get(api_version=api_version, kind=kind)

    def items(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        listed = self.api(api_version, kind).get(namespace=namespace)
        return [item.to_dict() for item in listed.items]

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            return dict(self.api(api_version, kind).get(name=name, namespace=namespace).to_dict())
        except NotFoundError:
            return None

    def _patch_ingress(self, obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json_patch(obj, patch)

    def _json_patch(self, obj: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
        meta = obj["metadata"]
        api = self.api(obj.get("apiVersion") or INGRESS[0], obj.get("kind") or INGRESS[1])
        answer = api.patch(
            body=patch,
            name=meta["name"],
            namespace=meta.get("namespace"),
            content_type="application/json-patch+json",
        )
        return dict(answer.to_dict())

    def add_finalizer(self, obj: dict[str, Any], finalizer: str = FINALIZER) -> dict[str, Any]:
        finalizers = obj["metadata"].get("finalizers") or []
        if finalizer in finalizers:
            return obj
        value = [*finalizers, finalizer]
        return self._json_patch(
            obj, [{"op": "add", "path": "/metadata/finalizers", "value": value}]
        )

    def remove_finalizer(self, obj: dict[str, Any], finalizer: str = FINALIZER) -> None:
        finalizers = obj["metadata"].get("finalizers") or []
        if finalizer not in finalizers:
            return
        rest = [f for f in finalizers if f != finalizer]
        # `test` first: a concurrent change to the list makes this patch fail, not clobber it.
        self._json_patch(
            obj,
            [
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {"op": "replace", "path": "/metadata/finalizers", "value": rest},
            ],
        )

    def patch_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """A merge patch of ``status`` through the status subresource, as client.MergeFrom."""
        meta = obj["metadata"]
        answer = self.api(obj["apiVersion"], obj["kind"]).status.patch(
            body={"status": status},
            name=meta["name"],
            namespace=meta.get("namespace"),
            content_type="application/merge-patch+json",
        )
        return dict(answer.to_dict())

    def annotate(self, obj: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
        meta = obj["metadata"]
        answer = self.api(obj["apiVersion"], obj["kind"]).patch(
            body={"metadata": {"annotations": annotations}},
            name=meta["name"],
            namespace=meta.get("namespace"),
            content_type="application/merge-patch+json",
        )
        return dict(answer.to_dict())

    def set_hostname(self, obj: dict[str, Any], hostname: str, ports: list[int]) -> dict[str, Any]:
        entry = {"hostname": hostname, "ports": [{"port": port, "protocol": ""} for port in ports]}
        seen = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if seen == [entry]:
            return obj
        meta = obj["metadata"]
        answer = self.api(*INGRESS).status.patch(
            body={"status": {"loadBalancer": {"ingress": [entry]}}},
            name=meta["name"],
            namespace=meta["namespace"],
            content_type="application/merge-patch+json",
        )
        return dict(answer.to_dict())

    # -- TargetGroupBindings ------------------------------------------------------------------

    def _bindings_api(self) -> Any | None:
        try:
            return self.api(*BINDING)
        except ResourceNotFoundError:  # the CRDs are not installed (Auto Mode has its own)
            return None

    def sync_bindings(
        self,
        obj: dict[str, Any],
        model: StackModel,
        target_groups: dict[str, str],
        backend_sg: str | None,
        *,
        label_prefix: str = "ingress.k8s.aws",
    ) -> None:
        api = self._bindings_api()
        if api is None:
            return
        meta = obj["metadata"]
        labels = _stack_labels(meta, label_prefix)
        wanted: dict[str, dict[str, Any]] = {}
        for group in model.target_groups:
            namespace = group.namespace or meta["namespace"]
            spec: dict[str, Any] = {
                "serviceRef": {"name": group.service, "port": group.service_port},
                "targetGroupARN": target_groups[group.resource_id],
                "targetType": group.target_type,
                "ipAddressType": "ipv4",
            }
            if backend_sg:
                peer = {"securityGroup": {"groupID": backend_sg}}
                spec["networking"] = {"ingress": [{"from": [peer], "ports": [{"protocol": "TCP"}]}]}
            wanted[group.name] = {
                "apiVersion": BINDING[0],
                "kind": BINDING[1],
                "metadata": {
                    "name": group.name,
                    "namespace": namespace,
                    "labels": labels,
                    "finalizers": [BINDING_FINALIZER],
                },
                "spec": spec,
            }
        for name, body in wanted.items():
            namespace = body["metadata"]["namespace"]
            current = self.get(*BINDING, name, namespace)
            if current is None:
                api.create(body=body, namespace=namespace)
            elif current.get("spec") != body["spec"]:
                api.patch(
                    body={"spec": body["spec"]},
                    name=name,
                    namespace=namespace,
                    content_type="application/merge-patch+json",
                )
        self.delete_bindings(obj, keep=set(wanted), label_prefix=label_prefix)

    def delete_bindings(
        self,
        obj: dict[str, Any],
        *,
        keep: set[str] | None = None,
        label_prefix: str = "ingress.k8s.aws",
    ) -> None:
        api = self._bindings_api()
        if api is None:
            return
        meta = obj["metadata"]
        selector = ",".join(f"{k}={v}" for k, v in _stack_labels(meta, label_prefix).items())
        for item in api.get(namespace=meta["namespace"], label_selector=selector).items:
            binding = item.to_dict()
            name = binding["metadata"]["name"]
            if keep and name in keep:
                continue
            if BINDING_FINALIZER in (binding["metadata"].get("finalizers") or []):
                api.patch(
                    body={"metadata": {"finalizers": None}},
                    name=name,
                    namespace=meta["namespace"],
                    content_type="application/merge-patch+json",
                )
            try:
                api.delete(name=name, namespace=meta["namespace"])
            except NotFoundError:
                pass

    # -- Events -------------------------------------------------------------------------------

    def record(
        self,
        obj: dict[str, Any],
        kind: str,
        reason: str,
        message: str,
        *,
        component: str = "ingress",
    ) -> None:
        """An Event about the object (an Ingress: from component ``ingress``; a Gateway: from
        its controller's name); repeats are aggregated."""
        meta = obj["metadata"]
        key = (str(meta.get("uid", "")), kind, reason, message)
        events = self.api("v1", "Event")
        now = _now()
        known = self._events.get(key)
        if known is not None:
            name, count = known
            try:
                events.patch(
                    body={"count": count + 1, "lastTimestamp": now},
                    name=name,
                    namespace=meta["namespace"],
                    content_type="application/merge-patch+json",
                )
                self._events[key] = (name, count + 1)
                return
            except NotFoundError:
                pass
        # client-go's recorder names an Event "<object>.<UnixNano in hex>": unique per instant,
        # where a name from the second-resolution timestamp collides across two recorders.
        name = f"{meta['name']}.{time.time_ns():x}"
        events.create(
            namespace=meta["namespace"],
            body={
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion") or INGRESS[0],
                    "kind": obj.get("kind") or INGRESS[1],
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid", ""),
                    "resourceVersion": meta.get("resourceVersion", ""),
                },
                "reason": reason,
                "message": message,
                "type": kind,
                "source": {"component": component},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "reportingComponent": component,
            },
        )
        self._events[key] = (name, 1)


def _stack_labels(meta: dict[str, Any], prefix: str) -> dict[str, str]:
    """The labels a controller puts on the TargetGroupBindings of one stack."""
    return {f"{prefix}/stack-namespace": meta["namespace"], f"{prefix}/stack-name": meta["name"]}
