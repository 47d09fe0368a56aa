"""Per-kind server behaviour: defaults the real API server fills in; validation is in .validation."""

from __future__ import annotations

import base64
import threading
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from .resources import ResourceType


class Allocator:
    """Hands out Service cluster IPs and node ports, as the API server's allocators do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_ip = 10
        self._next_port = 30000

    def cluster_ip(self) -> str:
        with self._lock:
            self._next_ip += 1
            return f"10.96.{self._next_ip // 256}.{self._next_ip % 256}"

    def node_port(self) -> int:
        with self._lock:
            self._next_port += 1
            return self._next_port


def _container_defaults(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, dict):
                _container_defaults(container)


def _deployment_defaults(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    template_spec = spec.get("template", {}).get("spec")
    if isinstance(template_spec, dict):
        _pod_spec_defaults(template_spec)


def _service_defaults(obj: dict[str, Any], live: dict[str, Any] | None, alloc: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    live_spec = (live or {}).get("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        # Updates that leave out allocated values keep them (the real "patchAllocatedValues").
        ip = spec.get("clusterIP") or live_spec.get("clusterIP") or alloc.cluster_ip()
        spec["clusterIP"] = ip
        spec.setdefault("clusterIPs", [ip])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    live_ports = {p.get("port"): p for p in live_spec.get("ports") or [] if isinstance(p, dict)}
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if spec["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in port:
            port["nodePort"] = (
                live_ports.get(port.get("port"), {}).get("nodePort") or alloc.node_port()
            )
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", {"loadBalancer": {}})


def _webhook_defaults(obj: dict[str, Any], mutating: bool) -> None:
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        service = hook.get("clientConfig", {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def _crd_defaults(obj: dict[str, Any], live: dict[str, Any] | None) -> None:
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if "kind" in names:
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})
    storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    stored = list((obj.get("status") or {}).get("storedVersions") or [])
    # Established comes later, from the establishing controller (sandbox.kube.establishing).
    established = next(
        (
            c
            for c in ((live or {}).get("status") or {}).get("conditions") or []
            if c.get("type") == "Established"
        ),
        None,
    ) or {
        "type": "Established",
        "status": "False",
        "reason": "Installing",
        "message": "the initial names have been accepted",
        "lastTransitionTime": obj["metadata"]["creationTimestamp"],
    }
    obj["status"] = {
        "acceptedNames": dict(names),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": obj["metadata"]["creationTimestamp"],
            },
            json_copy(established),
        ],
        "storedVersions": stored + [v for v in storage if v not in stored],
    }


def apply_defaults(
    rtype: ResourceType, obj: dict[str, Any], live: dict[str, Any] | None, alloc: Allocator
) -> None:
    """Fill in what the real API server defaults, on create (``live`` None) and on update."""
    kind, meta = rtype.kind, obj["metadata"]
    if rtype.custom:
        return
    if kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        if not meta.get("deletionTimestamp"):
            obj["status"] = {"phase": "Active"}
    elif kind == "Deployment":
        _deployment_defaults(obj)
    elif kind == "Pod":
        _pod_spec_defaults(obj.setdefault("spec", {}))
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind == "Service":
        _service_defaults(obj, live, alloc)
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {}) if string_data else obj.get("data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()  # type: ignore[index]
    elif kind == "Ingress":
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "CustomResourceDefinition":
        _crd_defaults(obj, live)
    elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        _webhook_defaults(obj, mutating=kind.startswith("Mutating"))
