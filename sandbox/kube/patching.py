"""The three patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from .errors import ApiError, bad_request

# Lists merged by a key instead of replaced, as the Kubernetes types declare them
# (patchMergeKey). "ports" depends on where it sits: containers key by containerPort,
# Services by port.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "webhooks": ("name",),
    "ports": ("containerPort", "port"),
}
# Primitive lists merged as sets rather than replaced.
_MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


class _Deleted:
    """Marks a map removed by a ``$patch: delete`` directive."""


_DELETED = _Deleted()


# How lists merge: True for the built-in kinds' patch metadata, False for atomic lists, or (for
# custom resources) list field name -> its x-kubernetes-list-map-keys key from the CRD schema.
ListKeys = bool | Mapping[str, str]


def merge_key(field: str, items: list[Any], *, builtin: ListKeys = True) -> str | None:
    """The key that identifies elements of list ``field``, or None when the list is atomic.

    Custom resource lists are atomic unless their CRD schema marks them
    ``x-kubernetes-list-type: map`` (``builtin`` is then the schema's keys by field name).
    """
    if not builtin or not items or not all(isinstance(item, dict) for item in items):
        return None
    if not isinstance(builtin, bool):
        key = builtin.get(field)
        if key and all(key in item for item in items if item.get("$patch") is None):
            return key
        return None
    for key in _MERGE_KEYS.get(field, ()):
        if all(key in item for item in items if item.get("$patch") is None):
            return key
    return None


# --- JSON merge patch -------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch ---------------------------------------------------------------------


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Kubernetes strategic merge: keyed lists merge by key, with the ``$patch`` directives."""
    result = _smp_value(target, patch, "")
    return {} if result is _DELETED else result


def _smp_value(target: Any, patch: Any, field: str) -> Any:
    if isinstance(patch, dict):
        return _smp_map(target if isinstance(target, dict) else {}, patch)
    if isinstance(patch, list):
        return _smp_list(target if isinstance(target, list) else [], patch, field)
    return json_copy(patch)


def _strip(value: Any) -> Any:
    """Drop patch directives from a value that replaces rather than merges."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _smp_map(target: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _strip(patch)
    if directive is not None:
        raise bad_request(f"unknown patch directive {directive!r}")
    result = dict(target)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [item for item in result[name] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        else:
            merged = _smp_value(result.get(key), value, key)
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _ordered(result[name], order, name)
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _smp_list(target: list[Any], patch: list[Any], field: str) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return _strip(patch)  # type: ignore[no-any-return]
    key = merge_key(field, patch + target)
    if key is None:
        if field in _MERGED_PRIMITIVE_LISTS:
            return list(target) + [item for item in patch if item not in target]
        return _strip(patch)  # type: ignore[no-any-return]
    result = json_copy(target)
    for item in patch:
        index = next((i for i, cur in enumerate(result) if cur.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip(item))
        else:
            result[index] = _smp_map(result[index], item)
    return result


def _ordered(items: list[Any], order: list[Any], field: str) -> list[Any]:
    """Put ``items`` in the order a ``$setElementOrder`` directive gives; others keep theirs after."""
    key = merge_key(field, items + order)

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    first = sorted((i for i in items if ident(i) in wanted), key=lambda i: wanted.index(ident(i)))
    return first + [i for i in items if ident(i) not in wanted]


# --- JSON patch ----------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _invalid_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"the JSON patch could not be applied: {message}")


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _invalid_patch(f"path /{'/'.join(parts)} does not exist")
    return node


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _invalid_patch(f"path /{'/'.join(parts)} does not exist")


def _remove(doc: Any, parts: list[str]) -> Any:
    value = _get(doc, parts)
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return value


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts), parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _invalid_patch(f"replace of missing path /{'/'.join(parts)}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _invalid_patch(f"index {last} out of range")
    else:
        raise _invalid_patch(f"path /{'/'.join(parts)} does not exist")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 operations: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    result = json_copy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid JSON patch operation {op!r}")
        name, parts = op["op"], _pointer(op["path"])
        if name == "add":
            result = _add(result, parts, json_copy(op.get("value")))
        elif name == "remove":
            _remove(result, parts)
        elif name == "replace":
            result = _add(result, parts, json_copy(op.get("value")), replace=True)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _remove(result, source) if name == "move" else json_copy(_get(result, source))
            result = _add(result, parts, value)
        elif name == "test":
            if _get(result, parts) != op.get("value"):
                raise _invalid_patch(f"test failed at {op['path']}")
        else:
            raise bad_request(f"unknown JSON patch operation {name!r}")
    return result
