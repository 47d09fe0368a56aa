"""Per-kind server behaviour: defaults the real API server fills in, and validation."""

from __future__ import annotations

import base64
import re
import threading
from typing import Any

from .errors import invalid
from .resources import ResourceType

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kinds whose names must be DNS labels (no dots), as in the real API.
_LABEL_NAMED = frozenset({"Namespace", "Service", "Deployment"})


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


def _crd_defaults(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if "kind" in names:
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})
    storage = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
    stored = list((obj.get("status") or {}).get("storedVersions") or [])
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
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": obj["metadata"]["creationTimestamp"],
            },
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
        _crd_defaults(obj)
    elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        _webhook_defaults(obj, mutating=kind.startswith("Mutating"))


def _name_problems(rtype: ResourceType, name: str) -> list[tuple[str, str]]:
    pattern = _DNS_LABEL if rtype.kind in _LABEL_NAMED else _DNS_SUBDOMAIN
    limit = 63 if rtype.kind in _LABEL_NAMED else 253
    if rtype.kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        return (
            []
            if name and "/" not in name and "%" not in name
            else [("metadata.name", "Invalid value")]
        )
    if not pattern.match(name) or len(name) > limit:
        return [
            (
                "metadata.name",
                f"Invalid value: {name!r}: a lowercase RFC 1123 name must "
                "consist of lower case alphanumeric characters, '-' or '.'",
            )
        ]
    return []


def _deployment_problems(obj: dict[str, Any]) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    problems = []
    selector = (spec.get("selector") or {}).get("matchLabels")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not spec.get("selector"):
        problems.append(("spec.selector", "Required value"))
    elif selector and any(labels.get(k) != v for k, v in selector.items()):
        problems.append(
            (
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            )
        )
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
    if not containers:
        problems.append(("spec.template.spec.containers", "Required value"))
    for i, container in enumerate(containers or []):
        for field in ("name", "image"):
            if not (isinstance(container, dict) and container.get(field)):
                problems.append((f"spec.template.spec.containers[{i}].{field}", "Required value"))
    return problems


def _crd_problems(obj: dict[str, Any]) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    problems = []
    for field in ("group",):
        if not spec.get(field):
            problems.append((f"spec.{field}", "Required value"))
    for field in ("plural", "kind"):
        if not names.get(field):
            problems.append((f"spec.names.{field}", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append(("spec.scope", "Unsupported value: must be Namespaced or Cluster"))
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(
            (
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if obj["metadata"]["name"] != expected:
        problems.append(
            (
                "metadata.name",
                f'Invalid value: must be spec.names.plural+"."+spec.group ({expected})',
            )
        )
    return problems


def validate(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid for the mistakes the real API server rejects (a useful subset)."""
    name = obj["metadata"].get("name", "")
    problems = _name_problems(rtype, name)
    if rtype.kind == "Deployment" and not rtype.custom:
        problems += _deployment_problems(obj)
    elif rtype.kind == "CustomResourceDefinition":
        problems += _crd_problems(obj)
    elif rtype.kind == "Service" and not rtype.custom:
        spec = obj.get("spec") or {}
        if (
            spec.get("type") != "ExternalName"
            and not spec.get("ports")
            and spec.get("clusterIP") != "None"
        ):
            problems.append(("spec.ports", "Required value"))
    elif rtype.kind == "Ingress" and not rtype.custom:
        for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
            for j, path in enumerate((rule.get("http") or {}).get("paths") or []):
                if not path.get("pathType"):
                    problems.append((f"spec.rules[{i}].http.paths[{j}].pathType", "Required value"))
    if problems:
        raise invalid(rtype.kind, rtype.group, name, problems)
