"""Endpoints and EndpointSlices for a Service, from the ready replicas of matching Deployments."""

from __future__ import annotations

import hashlib
from typing import Any

from .storebase import Object

SLICE_MANAGED_BY = "endpointslice-controller.k8s.io"


def template_labels(deployment: Object) -> dict[str, str]:
    return ((deployment.get("spec") or {}).get("template") or {}).get("metadata", {}).get(
        "labels"
    ) or {}


def _pods(backends: list[Object]) -> list[tuple[str, Object]]:
    """One (ip, targetRef) per ready replica of the backing Deployments."""
    pods: list[tuple[str, Object]] = []
    for deployment in backends:
        meta = deployment["metadata"]
        suffix = hashlib.sha1(meta["uid"].encode()).hexdigest()[:10]
        for index in range(int((deployment.get("status") or {}).get("readyReplicas", 0))):
            ip = f"127.0.0.{len(pods) % 254 + 1}"
            ref = {
                "kind": "Pod",
                "namespace": meta["namespace"],
                "name": f"{meta['name']}-{suffix}-{index}",
            }
            pods.append((ip, ref))
    return pods


def _target_port(port: Object, backends: list[Object]) -> Any:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for deployment in backends:
        containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        for container in containers:
            for cport in container.get("ports") or []:
                if cport.get("name") == target:
                    return cport.get("containerPort")
    return port.get("port")


def _ports(service: Object, backends: list[Object]) -> list[Object]:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        entry: Object = {
            "port": _target_port(port, backends),
            "protocol": port.get("protocol", "TCP"),
        }
        if port.get("name"):
            entry["name"] = port["name"]
        ports.append(entry)
    return ports


def endpoints_object(service: Object, backends: list[Object]) -> Object:
    meta = service["metadata"]
    pods = _pods(backends)
    obj: Object = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
        },
    }
    if pods:
        obj["subsets"] = [
            {
                "addresses": [{"ip": ip, "targetRef": ref} for ip, ref in pods],
                "ports": _ports(service, backends),
            }
        ]
    return obj


def endpoint_slice(service: Object, backends: list[Object]) -> Object:
    meta = service["metadata"]
    suffix = hashlib.sha1(meta["uid"].encode()).hexdigest()[:5]
    labels = dict(meta.get("labels") or {})
    labels.update(
        {
            "kubernetes.io/service-name": meta["name"],
            "endpointslice.kubernetes.io/managed-by": SLICE_MANAGED_BY,
        }
    )
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{meta['name']}-{suffix}",
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": ref,
            }
            for ip, ref in _pods(backends)
        ],
        "ports": _ports(service, backends),
    }
