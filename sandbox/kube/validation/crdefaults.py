"""Defaults of a custom resource's structural schema, filled in as kube-apiserver does (pure).

A real server defaults custom resources when it decodes a request and when it reads them from
etcd, after pruning: a field that is absent gets its schema's ``default`` (then the default's
own fields are defaulted too), in objects, array items and map values. So a Gateway reads back
with ``status.conditions`` "Waiting for controller" right after its create (whose status the
server drops), and an HTTPRoute rule without ``matches`` matches the path prefix ``/``.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.jsoncopy import json_copy

_ROOT_SKIP = frozenset({"apiVersion", "kind", "metadata"})


def apply_defaults(value: Any, schema: Any, *, root: bool = True) -> None:
    """Fill ``value`` (an object of ``schema``) with the schema's defaults, in place."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, child in properties.items():
            if root and name in _ROOT_SKIP or not isinstance(child, dict):
                continue
            if name not in value and "default" in child:
                value[name] = json_copy(child["default"])
            if name in value:
                apply_defaults(value[name], child, root=False)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict) and not properties:
            for item in value.values():
                apply_defaults(item, additional, root=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"], root=False)
