"""Custom resource values against their CRD's openAPIV3Schema, with the texts of the real checks."""

from __future__ import annotations

import re
from typing import Any

from .fielderrors import FieldError, invalid, not_supported, required, too_long, too_many

_ROOT_SKIP = frozenset({"apiVersion", "kind", "metadata"})


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _scalar_checks(value: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(not_supported(path, value, [str(v) for v in schema["enum"]]))
    if isinstance(value, str):
        if schema.get("pattern") and not re.search(schema["pattern"], value):
            errors.append(
                invalid(path, value, f"{path} in body should match '{schema['pattern']}'")
            )
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(too_long(path, schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                invalid(
                    path,
                    value,
                    f"{path} in body should be at least {schema['minLength']} chars long",
                )
            )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                invalid(
                    path,
                    value,
                    f"{path} in body should be greater than or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                invalid(
                    path,
                    value,
                    f"{path} in body should be less than or equal to {schema['maximum']}",
                )
            )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(too_many(path, len(value), schema["maxItems"]))
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                invalid(
                    path,
                    len(value),
                    f"{path} in body should have at least {schema['minItems']} items",
                )
            )
    return errors


def _check(value: Any, schema: Any, path: str, *, root: bool = False) -> list[FieldError]:
    if not isinstance(schema, dict):
        return []
    if value is None:
        if schema.get("nullable"):
            return []
        return (
            [
                invalid(
                    path,
                    "null",
                    f'{path} in body must be of type {schema.get("type", "object")}: "null"',
                )
            ]
            if schema.get("type")
            else []
        )
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _type_ok(value, "integer")):
            return [
                invalid(
                    path,
                    _json_type(value),
                    f'{path} in body must be of type integer-or-string: "{_json_type(value)}"',
                )
            ]
        return _scalar_checks(value, schema, path)
    if kind and not _type_ok(value, kind):
        shown = _json_type(value)
        return [invalid(path, shown, f'{path} in body must be of type {kind}: "{shown}"')]
    errors = _scalar_checks(value, schema, path)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(required(f"{path}.{name}" if path else name))
        for name, child in sorted(value.items()):  # a stable order for the aggregated message
            if root and name in _ROOT_SKIP:
                continue
            where = f"{path}.{name}" if path else name
            if name in properties:
                errors += _check(child, properties[name], where)
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _check(child, schema["additionalProperties"], where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += _check(item, schema["items"], f"{path}[{index}]")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        if schema.get("x-kubernetes-list-type") == "map" and keys:
            seen: set[str] = set()
            for index, item in enumerate(value):
                ident = repr([item.get(k) for k in keys]) if isinstance(item, dict) else repr(item)
                if ident in seen:
                    errors.append(
                        FieldError(
                            "FieldValueDuplicate",
                            f"{path}[{index}]",
                            {k: item.get(k) for k in keys},
                        )
                    )
                seen.add(ident)
    return errors


def validate(obj: dict[str, Any], schema: dict[str, Any], *, status: bool) -> list[FieldError]:
    """Every value of ``obj`` that ``schema`` refuses."""
    del status  # the whole object is validated; status writes carry the rest unchanged
    return _check(obj, schema, "", root=True)
