"""Server-side printing: the meta.k8s.io Table that ``kubectl get`` asks for, with its columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Object = dict[str, Any]
Cell = Callable[[Object], Any]


def age(timestamp: str | None, *, now: dt.datetime | None = None) -> str:
    """Age the way kubectl shows it: 45s, 3m20s, 12m, 5h, 3d4h, 40d, 2y."""
    if not timestamp:
        return "<unknown>"
    then = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d" if days < 730 else f"{days // 365}y"


def _spec(obj: Object) -> Object:
    return obj.get("spec") or {}


def _status(obj: Object) -> Object:
    return obj.get("status") or {}


def _ports(obj: Object) -> str:
    parts = []
    for port in _spec(obj).get("ports") or []:
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        parts.append(f"{port.get('port')}{node}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _endpoints(obj: Object) -> str:
    pairs = [
        f"{address.get('ip')}:{port.get('port')}"
        for subset in obj.get("subsets") or []
        for address in subset.get("addresses") or []
        for port in subset.get("ports") or [{}]
    ]
    return ",".join(pairs) or "<none>"


def _ingress_address(obj: Object) -> str:
    entries = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(e.get("hostname") or e.get("ip") or "" for e in entries)


def _ingress_hosts(obj: Object) -> str:
    hosts = [rule.get("host") or "*" for rule in _spec(obj).get("rules") or []]
    return ",".join(hosts) or "*"


# Kind -> extra columns between Name and Age: (header, cell function).
_COLUMNS: dict[str, list[tuple[str, Cell]]] = {
    "Namespace": [("Status", lambda o: _status(o).get("phase", ""))],
    "Deployment": [
        ("Ready", lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        ("Up-to-date", lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", lambda o: _status(o).get("availableReplicas", 0)),
    ],
    "Service": [
        ("Type", lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", lambda o: _spec(o).get("clusterIP", "<none>")),
        ("External-IP", lambda o: _ingress_address(o) or "<none>"),
        ("Port(s)", _ports),
    ],
    "Pod": [("Status", lambda o: _status(o).get("phase", ""))],
    "Ingress": [
        ("Class", lambda o: _spec(o).get("ingressClassName", "<none>")),
        ("Hosts", _ingress_hosts),
        ("Address", _ingress_address),
        ("Ports", lambda o: "80, 443" if _spec(o).get("tls") else "80"),
    ],
    "ConfigMap": [("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [
        ("Type", lambda o: o.get("type", "Opaque")),
        ("Data", lambda o: len(o.get("data") or {})),
    ],
    "Endpoints": [("Endpoints", _endpoints)],
    "IngressClass": [("Controller", lambda o: _spec(o).get("controller", ""))],
    "RoleBinding": [
        ("Role", lambda o: f"{o.get('roleRef', {}).get('kind')}/{o.get('roleRef', {}).get('name')}")
    ],
    "ClusterRoleBinding": [("Role", lambda o: f"ClusterRole/{o.get('roleRef', {}).get('name')}")],
}


def _columns(rtype: ResourceType) -> list[tuple[str, Cell]]:
    extra = [] if rtype.custom else _COLUMNS.get(rtype.kind, [])
    name: Cell = lambda o: o["metadata"]["name"]  # noqa: E731 - a table of cells
    created: Cell = lambda o: age(o["metadata"].get("creationTimestamp"))  # noqa: E731
    return [("Name", name), *extra, ("Age", created)]


def _row_object(obj: Object, include: str) -> Object | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType,
    objects: list[Object],
    *,
    include_object: str = "Metadata",
    list_metadata: Object | None = None,
) -> Object:
    """A Table of ``objects`` (one row each) with the kind's columns."""
    columns = _columns(rtype)
    definitions = [
        {
            "name": header,
            "type": "integer" if header in ("Up-to-date", "Available", "Data") else "string",
            "format": "name" if header == "Name" else "",
            "description": header,
            "priority": 0,
        }
        for header, _ in columns
    ]
    rows = []
    for obj in objects:
        row: Object = {"cells": [cell(obj) for _, cell in columns]}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata or {},
        "columnDefinitions": definitions,
        "rows": rows,
    }
