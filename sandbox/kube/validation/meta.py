"""ObjectMeta rules (apimachinery ValidateObjectMeta): name by kind, labels, annotations, owners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import names
from .fielderrors import FieldError, forbidden, invalid, required, too_long

NameRule = Callable[[str], list[str]]
_ANNOTATIONS_LIMIT = 256 * 1024


def go_string_map(value: dict[str, Any]) -> str:
    """A ``map[string]string`` as Go's ``%#v`` prints it (keys sorted)."""
    inner = ", ".join(f'"{k}":"{value[k]}"' for k in sorted(value))
    return "map[string]string{" + inner + "}"


def validate_labels(labels: Any, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(labels, dict):
        return errors
    for key, value in labels.items():
        errors += [invalid(field, key, m) for m in names.label_key(str(key))]
        errors += [invalid(field, value, m) for m in names.label_value(str(value))]
    return errors


def _annotations(annotations: Any, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(annotations, dict):
        return errors
    size = 0
    for key, value in annotations.items():
        errors += [invalid(field, key, m) for m in names.label_key(str(key).lower())]
        size += len(str(key)) + len(str(value))
    if size > _ANNOTATIONS_LIMIT:
        errors.append(too_long(field, _ANNOTATIONS_LIMIT))
    return errors


def _owner_references(refs: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    field = "metadata.ownerReferences"
    controllers = 0
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        if not ref.get("apiVersion"):
            errors.append(invalid(f"{field}.apiVersion", "", "version must not be empty"))
        if not ref.get("kind"):
            errors.append(invalid(f"{field}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            errors.append(invalid(f"{field}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            errors.append(invalid(f"{field}.uid", "", "uid must not be empty"))
        controllers += 1 if ref.get("controller") else 0
    if controllers > 1:
        errors.append(invalid(field, refs, "Only one reference can have Controller set to true."))
    return errors


def validate_object_meta(
    meta: dict[str, Any], *, name_rule: NameRule, namespaced: bool
) -> list[FieldError]:
    """What every object's metadata must satisfy on create and update."""
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        errors += [invalid("metadata.name", name, m) for m in name_rule(name)]
    if meta.get("generateName"):
        # A generated name gets random characters appended: the prefix may end in '-'.
        prefix = str(meta["generateName"]).rstrip("-") or "a"
        errors += [
            invalid("metadata.generateName", meta["generateName"], m) for m in name_rule(prefix)
        ]
    if not namespaced and meta.get("namespace"):
        errors.append(forbidden("metadata.namespace", "not allowed on this type"))
    errors += validate_labels(meta.get("labels"), "metadata.labels")
    errors += _annotations(meta.get("annotations"), "metadata.annotations")
    errors += _owner_references(meta.get("ownerReferences"))
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        errors += [
            invalid(f"metadata.finalizers[{i}]", finalizer, m)
            for m in names.label_key(str(finalizer))
        ]
    return errors
