"""Field ownership (metadata.managedFields) and the server-side apply merge."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from .errors import ApiError, apply_conflict
from .patching import ListKeys, merge_key

FieldPath = tuple[str, ...]  # tokens as in fieldsV1: "f:spec", 'k:{"name":"web"}'
FieldSet = set[FieldPath]

# Server-owned or identifying fields that no manager owns.
_UNTRACKED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
    }
)
_MISSING = object()


def tracked_part(obj: dict[str, Any], scope: str) -> dict[str, Any]:
    """The part of ``obj`` whose fields managers own, for a write through ``scope``.

    ``scope`` is ``"main"`` (a type with a status subresource: status excluded),
    ``"status"`` (only status) or ``"all"`` (a type without status subresource).
    """
    if scope == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    part = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if scope == "main":
        part.pop("status", None)
    metadata = {
        k: v for k, v in (obj.get("metadata") or {}).items() if k not in _UNTRACKED_METADATA
    }
    if metadata:
        part["metadata"] = metadata
    return part


def untracked_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The server-owned and identifying part of ``metadata``."""
    return {k: json_copy(v) for k, v in metadata.items() if k in _UNTRACKED_METADATA}


def _item_token(key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"), sort_keys=True)


def field_set(value: Any, *, builtin: ListKeys, path: FieldPath = (), field: str = "") -> FieldSet:
    """Every owned path of ``value``: leaves, plus each element of keyed lists."""
    out: FieldSet = set()
    if isinstance(value, dict) and value:
        for key, child in value.items():
            out |= field_set(child, builtin=builtin, path=path + (f"f:{key}",), field=key)
    elif isinstance(value, list) and value and (key := merge_key(field, value, builtin=builtin)):
        for item in value:
            item_path = path + (_item_token(key, item),)
            out.add(item_path)
            for name, child in item.items():
                out |= field_set(
                    child, builtin=builtin, path=item_path + (f"f:{name}",), field=name
                )
    elif path:
        out.add(path)
    return out


def value_at(obj: Any, path: FieldPath) -> Any:
    """The value at ``path``, or a private sentinel when absent."""
    node = obj
    for token in path:
        if token.startswith("f:") and isinstance(node, dict):
            node = node.get(token[2:], _MISSING)
        elif token.startswith("k:") and isinstance(node, list):
            ((key, want),) = json.loads(token[2:]).items()
            node = next((i for i in node if isinstance(i, dict) and i.get(key) == want), _MISSING)
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def remove_path(obj: Any, path: FieldPath) -> None:
    """Delete the field or list element at ``path`` if present."""
    parent = value_at(obj, path[:-1]) if len(path) > 1 else obj
    token = path[-1]
    if token.startswith("f:") and isinstance(parent, dict):
        parent.pop(token[2:], None)
    elif token.startswith("k:") and isinstance(parent, list):
        ((key, want),) = json.loads(token[2:]).items()
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get(key) == want)]


def encode_fields(fields: FieldSet) -> dict[str, Any]:
    """The ``fieldsV1`` tree of a set of paths (``"."`` marks a path owned along with children)."""
    tree: dict[str, Any] = {}
    for path in sorted(fields):
        node = tree
        for token in path:
            node = node.setdefault(token, {})
    for path in fields:
        node = tree
        for token in path:
            node = node[token]
        if node and "." not in node:
            node["."] = {}
    return tree


def decode_fields(tree: dict[str, Any], prefix: FieldPath = ()) -> FieldSet:
    out: FieldSet = set()
    for token, child in tree.items():
        if token == ".":
            out.add(prefix)
        elif child:
            out |= decode_fields(child, prefix + (token,))
        else:
            out.add(prefix + (token,))
    return out


def _render_path(path: FieldPath) -> str:
    parts = []
    for token in path:
        if token.startswith("f:"):
            parts.append("." + token[2:])
        else:  # k:{"name":"web"} -> [name="web"], as structured-merge-diff prints it
            keys = json.loads(token[2:])
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
    return "".join(parts)


class ManagedFields:
    """The managedFields entries of one object, edited by writes and applies."""

    def __init__(self, entries: Iterable[dict[str, Any]] | None) -> None:
        self.entries = [json_copy(e) for e in entries or []]

    def _find(self, manager: str, operation: str, subresource: str) -> dict[str, Any] | None:
        for entry in self.entries:
            if (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (
                manager,
                operation,
                subresource,
            ):
                return entry
        return None

    def _set(
        self,
        manager: str,
        operation: str,
        *,
        subresource: str,
        api_version: str,
        fields: FieldSet,
        now: str,
    ) -> None:
        entry = self._find(manager, operation, subresource)
        if entry is None:
            entry = {"manager": manager, "operation": operation, "apiVersion": api_version}
            if subresource:
                entry["subresource"] = subresource
            self.entries.append(entry)
        changed = decode_fields(entry.get("fieldsV1") or {}) != fields or "time" not in entry
        entry.update(fieldsType="FieldsV1", fieldsV1=encode_fields(fields))
        # An unchanged entry keeps its time, so that a no-op write changes nothing.
        if changed:
            entry["time"] = now
            entry["apiVersion"] = api_version

    def touch(self, manager: str, operation: str, subresource: str, *, now: str) -> None:
        """Stamp the acting manager's entry: its write changed the object."""
        entry = self._find(manager, operation, subresource)
        if entry is not None:
            entry["time"] = now

    def _others(self, manager: str, operation: str, subresource: str) -> list[dict[str, Any]]:
        mine = self._find(manager, operation, subresource)
        return [e for e in self.entries if e is not mine]

    def _prune(self) -> None:
        self.entries = [e for e in self.entries if decode_fields(e.get("fieldsV1") or {})]

    def record_update(
        self,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        *,
        manager: str,
        subresource: str,
        api_version: str,
        now: str,
        builtin: ListKeys,
    ) -> None:
        """An update by ``manager``: it takes the fields it changed; removed fields lose owners."""
        old_set = field_set(old, builtin=builtin) if old else set()
        new_set = field_set(new, builtin=builtin)
        changed = {p for p in new_set if p not in old_set or value_at(old, p) != value_at(new, p)}
        removed = old_set - new_set
        for entry in self._others(manager, "Update", subresource):
            owned = decode_fields(entry.get("fieldsV1") or {})
            if owned & (changed | removed):
                entry["fieldsV1"] = encode_fields(owned - changed - removed)
        mine = self._find(manager, "Update", subresource)
        owned = decode_fields(mine.get("fieldsV1") or {}) if mine else set()
        if changed or mine:
            self._set(
                manager,
                "Update",
                subresource=subresource,
                api_version=api_version,
                fields=(owned - removed) | changed,
                now=now,
            )
        self._prune()

    def apply(
        self,
        live: dict[str, Any],
        applied: dict[str, Any],
        *,
        manager: str,
        force: bool,
        subresource: str,
        api_version: str,
        now: str,
        builtin: ListKeys,
        conflict_context: tuple[str, str, str],
    ) -> dict[str, Any]:
        """Merge ``applied`` (tracked part only) into ``live`` (tracked part); return the result."""
        applied_set = field_set(applied, builtin=builtin)
        mine = self._find(manager, "Apply", subresource)
        previous = decode_fields(mine.get("fieldsV1") or {}) if mine else set()
        conflicts: list[tuple[str, str]] = []
        for entry in self._others(manager, "Apply", subresource):
            owned = decode_fields(entry.get("fieldsV1") or {})
            clashing = {
                p
                for p in owned & applied_set
                if not p[-1].startswith("k:") and value_at(live, p) != value_at(applied, p)
            }
            if clashing and force:
                entry["fieldsV1"] = encode_fields(owned - clashing)
            conflicts += [(_manager_text(entry), _render_path(p)) for p in sorted(clashing)]
        if conflicts and not force:
            raise _conflict_error(conflict_context, conflicts)
        owned_by_others: FieldSet = set()
        for entry in self._others(manager, "Apply", subresource):
            owned_by_others |= decode_fields(entry.get("fieldsV1") or {})
        result = json_copy(live)
        # Fields this manager applied before and no longer applies go away, unless shared.
        for path in sorted(previous - applied_set - owned_by_others, key=len, reverse=True):
            remove_path(result, path)
        merged: dict[str, Any] = apply_merge(result, applied, builtin=builtin)
        self._set(
            manager,
            "Apply",
            subresource=subresource,
            api_version=api_version,
            fields=applied_set,
            now=now,
        )
        self._prune()
        return merged


def _manager_text(entry: dict[str, Any]) -> str:
    """A manager as the real conflict message prints it (apiserver fieldmanager printManager)."""
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        text += f" using {entry.get('apiVersion', '')}"
        if entry.get("time"):
            text += f" at {entry['time']}"
    return text


def _conflict_error(context: tuple[str, str, str], conflicts: list[tuple[str, str]]) -> ApiError:
    resource, group, name = context
    return apply_conflict(resource, group, name, conflicts)


def apply_merge(live: Any, applied: Any, *, builtin: ListKeys, field: str = "") -> Any:
    """Applied values win; maps merge; keyed lists merge element by element; other lists replace."""
    if isinstance(applied, dict) and isinstance(live, dict):
        result = dict(live)
        for key, value in applied.items():
            result[key] = apply_merge(live.get(key), value, builtin=builtin, field=key)
        return result
    if isinstance(applied, list) and isinstance(live, list):
        key = merge_key(field, applied + live, builtin=builtin)
        if key is not None:
            result_list = json_copy(live)
            for item in applied:
                index = next(
                    (i for i, cur in enumerate(result_list) if cur.get(key) == item.get(key)), None
                )
                if index is None:
                    result_list.append(json_copy(item))
                else:
                    result_list[index] = apply_merge(result_list[index], item, builtin=builtin)
            return result_list
    return json_copy(applied)
