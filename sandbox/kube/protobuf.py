"""Decoding of the Kubernetes protobuf wire format for the few kinds kubectl sends that way.

kubectl's typed commands (``kubectl create namespace|configmap|secret|serviceaccount|
deployment|service|role|rolebinding|...``) send protobuf and do not fall back to JSON on a
415. Responses are always JSON, which kubectl accepts. Fields outside these schemas are
dropped; zero values are dropped too, as JSON ``omitempty`` would.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from .errors import bad_request, unsupported_media_type

MAGIC = b"k8s\x00"

# message -> field number -> (JSON name, type, repeated). A type is a scalar name, "map:string",
# "map:bytes", "map:quantity", "intstr", "time", or another message name.
_Field = tuple[str, str, bool]
_SCHEMAS: dict[str, dict[int, _Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "raw", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {
        1: ("name", "string", False),
        2: ("generateName", "string", False),
        3: ("namespace", "string", False),
        5: ("uid", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("generation", "int", False),
        11: ("labels", "map:string", False),
        12: ("annotations", "map:string", False),
        13: ("ownerReferences", "OwnerReference", True),
        14: ("finalizers", "string", True),
    },
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "LabelSelector": {
        1: ("matchLabels", "map:string", False),
        2: ("matchExpressions", "LabelSelectorRequirement", True),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", False),
        2: ("operator", "string", False),
        3: ("values", "string", True),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", "Preconditions", False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
    "Preconditions": {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    # authorization.k8s.io/v1, what `kubectl auth can-i` sends.
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "ResourceAttributes": {
        1: ("namespace", "string", False),
        2: ("verb", "string", False),
        3: ("group", "string", False),
        4: ("version", "string", False),
        5: ("resource", "string", False),
        6: ("subresource", "string", False),
        7: ("name", "string", False),
    },
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:string", False),
        3: ("binaryData", "map:bytes", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:bytes", False),
        3: ("type", "string", False),
        4: ("stringData", "map:string", False),
        5: ("immutable", "bool", False),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", False),
        2: ("secrets", "ObjectReference", True),
        3: ("imagePullSecrets", "LocalObjectReference", True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    "ObjectReference": {
        1: ("kind", "string", False),
        2: ("namespace", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
    },
    "LocalObjectReference": {1: ("name", "string", False)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "PolicyRule": {
        1: ("verbs", "string", True),
        2: ("apiGroups", "string", True),
        3: ("resources", "string", True),
        4: ("resourceNames", "string", True),
        5: ("nonResourceURLs", "string", True),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta", False),
        2: ("subjects", "Subject", True),
        3: ("roleRef", "RoleRef", False),
    },
    "Subject": {
        1: ("kind", "string", False),
        2: ("apiGroup", "string", False),
        3: ("name", "string", False),
        4: ("namespace", "string", False),
    },
    "RoleRef": {
        1: ("apiGroup", "string", False),
        2: ("kind", "string", False),
        3: ("name", "string", False),
    },
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "DeploymentSpec": {
        1: ("replicas", "int", False),
        2: ("selector", "LabelSelector", False),
        3: ("template", "PodTemplateSpec", False),
        4: ("strategy", "DeploymentStrategy", False),
    },
    "DeploymentStrategy": {1: ("type", "string", False)},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {2: ("containers", "Container", True), 20: ("initContainers", "Container", True)},
    "Container": {
        1: ("name", "string", False),
        2: ("image", "string", False),
        3: ("command", "string", True),
        4: ("args", "string", True),
        6: ("ports", "ContainerPort", True),
        7: ("env", "EnvVar", True),
        8: ("resources", "ResourceRequirements", False),
    },
    "ContainerPort": {
        1: ("name", "string", False),
        3: ("containerPort", "int", False),
        4: ("protocol", "string", False),
    },
    "EnvVar": {1: ("name", "string", False), 2: ("value", "string", False)},
    "ResourceRequirements": {
        1: ("limits", "map:quantity", False),
        2: ("requests", "map:quantity", False),
    },
    "Quantity": {1: ("string", "string", False)},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
    "ServiceSpec": {
        1: ("ports", "ServicePort", True),
        2: ("selector", "map:string", False),
        3: ("clusterIP", "string", False),
        4: ("type", "string", False),
        10: ("externalName", "string", False),
    },
    "ServicePort": {
        1: ("name", "string", False),
        2: ("protocol", "string", False),
        3: ("port", "int", False),
        4: ("targetPort", "intstr", False),
        5: ("nodePort", "int", False),
    },
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise bad_request("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints and fixed widths, bytes otherwise."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, int.from_bytes(data[pos : pos + width], "little")))
            pos += width
        else:
            raise bad_request(f"unsupported protobuf wire type {wire}")
    return out


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind in ("bytes", "raw"):
        raw = value if isinstance(value, bytes) else b""
        return raw if kind == "raw" else base64.b64encode(raw).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        number = int(value) if isinstance(value, int) else 0
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "intstr":
        parts = _decode(value if isinstance(value, bytes) else b"", "_IntOrString")
        return parts.get("strVal", "") if parts.get("type") == 1 else parts.get("intVal", 0)
    if kind == "time":
        seconds = _decode(value if isinstance(value, bytes) else b"", "_Time").get("seconds", 0)
        return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _decode(value if isinstance(value, bytes) else b"", kind)


_SCHEMAS["_IntOrString"] = {
    1: ("type", "int", False),
    2: ("intVal", "int", False),
    3: ("strVal", "string", False),
}
_SCHEMAS["_Time"] = {1: ("seconds", "int", False), 2: ("nanos", "int", False)}


def _decode(data: bytes, message: str) -> dict[str, Any]:
    schema = _SCHEMAS[message]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind.startswith("map:"):
            entry = dict(_fields(value if isinstance(value, bytes) else b""))
            value_kind = {"string": "string", "bytes": "bytes", "quantity": "Quantity"}[kind[4:]]
            item = _scalar(value_kind, entry.get(2, b""))
            if value_kind == "Quantity":
                item = item.get("string", "")
            out.setdefault(name, {})[_scalar("string", entry.get(1, b""))] = item
        elif repeated:
            out.setdefault(name, []).append(_scalar(kind, value))
        else:
            out[name] = _scalar(kind, value)
    return out


def _omit_empty(value: Any) -> Any:
    """Drop the zero values the Go encoder writes for every non-pointer field."""
    if isinstance(value, dict):
        cleaned = {k: _omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ("", 0, False, None, {}, [])}
    if isinstance(value, list):
        return [_omit_empty(v) for v in value]
    return value


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object (``k8s\\0`` + runtime.Unknown envelope)."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body without the k8s envelope")
    envelope = _decode(body[len(MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta", {})
    kind = type_meta.get("kind", "")
    if kind not in _SCHEMAS or kind[0] == "_" or kind in ("Unknown", "TypeMeta"):
        raise unsupported_media_type(f"application/vnd.kubernetes.protobuf (kind {kind!r})")
    obj = _omit_empty(_decode(envelope.get("raw", b""), kind))
    obj.setdefault("metadata", {})
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
