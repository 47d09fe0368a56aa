"""Schemas to find unknown fields: built-in kinds from the published Kubernetes models, custom
resources from their CRD's structural schema.

The built-in schemas are data: the ``openapi_types`` / ``attribute_map`` tables that the official
Python client (release-1.37) generates from the Kubernetes OpenAPI document.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass, field
from typing import Any

# Kinds whose client model is not named V<version><Kind>.
_MODEL_NAMES = {
    ("", "v1", "Event"): "CoreV1Event",
    ("events.k8s.io", "v1", "Event"): "EventsV1Event",
}
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


@dataclass
class Node:
    """One place in a schema: a struct with known fields, a map, a list, or anything."""

    kind: str  # "struct", "map", "list", "any", "leaf"
    child: Node | None = None  # map values, list items
    fields: dict[str, Node] = field(default_factory=dict)
    model: str = ""  # struct fields come from this client model, read on first use
    preserve: bool = False  # x-kubernetes-preserve-unknown-fields: unknown fields are kept
    list_keys: tuple[str, ...] = ()  # x-kubernetes-list-map-keys of a list-type map

    def known(self) -> dict[str, Node]:
        if self.model and not self.fields:
            self.fields = _model_fields(self.model)
        return self.fields


ANY = Node("any")
LEAF = Node("leaf")


@functools.cache
def _models() -> Any:
    return importlib.import_module("kubernetes.client.models")


def _node_for_type(text: str) -> Node:
    text = text.strip()
    if match := re.fullmatch(r"List\[(.+)\]", text):
        return Node("list", child=_node_for_type(match.group(1)))
    if match := re.fullmatch(r"Dict\[str, (.+)\]", text):
        return Node("map", child=_node_for_type(match.group(1)))
    if text == "object":
        return ANY
    if text[:1].isupper() and hasattr(_models(), text):
        return Node("struct", model=text)
    return LEAF


@functools.cache
def _model_fields(model: str) -> dict[str, Node]:
    cls = getattr(_models(), model)
    types: dict[str, str] = cls.openapi_types
    names: dict[str, str] = cls.attribute_map
    return {names[attr]: _node_for_type(kind) for attr, kind in types.items()}


def builtin_schema(group: str, version: str, kind: str) -> Node | None:
    """The schema of a built-in kind, or None when the client has no model for it."""
    name = _MODEL_NAMES.get((group, version, kind), f"{version.capitalize()}{kind}")
    if not hasattr(_models(), name):
        return None
    return Node("struct", model=name)


def crd_schema(schema: Any, *, root: bool = True) -> Node:
    """The node of an openAPIV3Schema (structural: every level says its type)."""
    if not isinstance(schema, dict):
        return ANY
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    kind = schema.get("type")
    if root or schema.get("x-kubernetes-embedded-resource"):
        fields = {k: crd_schema(v, root=False) for k, v in (schema.get("properties") or {}).items()}
        fields.setdefault("apiVersion", LEAF)
        fields.setdefault("kind", LEAF)
        fields["metadata"] = Node("struct", model="V1ObjectMeta")
        return Node("struct", fields=fields, preserve=preserve)
    if kind == "array":
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        return Node("list", child=crd_schema(schema.get("items"), root=False), list_keys=keys)
    if kind == "object" or schema.get("properties"):
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            return Node("map", child=crd_schema(additional, root=False))
        if additional is True or (preserve and not schema.get("properties")):
            return ANY
        fields = {k: crd_schema(v, root=False) for k, v in (schema.get("properties") or {}).items()}
        return Node("struct", fields=fields, preserve=preserve)
    if preserve:
        return ANY
    return LEAF


def unknown_fields(value: Any, node: Node, path: str = "") -> list[str]:
    """Paths (``spec.template.spec.containers[0].foo``) of fields ``node`` does not know."""
    found: list[str] = []
    if node.kind == "struct" and isinstance(value, dict):
        known = node.known()
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if key in known:
                found += unknown_fields(child, known[key], where)
            elif not node.preserve:
                found.append(where)
    elif node.kind == "map" and isinstance(value, dict) and node.child is not None:
        for key, child in value.items():
            found += unknown_fields(child, node.child, f"{path}.{key}" if path else key)
    elif node.kind == "list" and isinstance(value, list) and node.child is not None:
        for index, item in enumerate(value):
            found += unknown_fields(item, node.child, f"{path}[{index}]")
    return found


def prune(value: Any, node: Node) -> Any:
    """``value`` without the fields ``node`` does not know (a copy where something is dropped)."""
    if node.kind == "struct" and isinstance(value, dict):
        known = node.known()
        return {
            k: prune(v, known[k]) if k in known else v
            for k, v in value.items()
            if k in known or node.preserve
        }
    if node.kind == "map" and isinstance(value, dict) and node.child is not None:
        return {k: prune(v, node.child) for k, v in value.items()}
    if node.kind == "list" and isinstance(value, list) and node.child is not None:
        return [prune(v, node.child) for v in value]
    return value


def prune_in_place(value: Any, node: Node) -> None:
    """Drop the fields ``node`` does not know from ``value`` itself (callers hold references)."""
    if node.kind == "struct" and isinstance(value, dict):
        known = node.known()
        for key in list(value):
            if key in known:
                prune_in_place(value[key], known[key])
            elif not node.preserve:
                del value[key]
    elif node.kind == "map" and isinstance(value, dict) and node.child is not None:
        for child in value.values():
            prune_in_place(child, node.child)
    elif node.kind == "list" and isinstance(value, list) and node.child is not None:
        for item in value:
            prune_in_place(item, node.child)
