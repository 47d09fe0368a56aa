"""apiextensions.k8s.io rules: CustomResourceDefinitions, with the structural-schema checks of v1."""

from __future__ import annotations

from typing import Any

from . import names
from .fielderrors import (
    FieldError,
    GoValue,
    as_dict,
    duplicate,
    immutable,
    invalid,
    not_supported,
    required,
)

Obj = dict[str, Any]
_TYPES = ["array", "boolean", "integer", "number", "object", "string"]


def _schema(node: Any, field: str, *, root: bool = False) -> list[FieldError]:
    """The structural-schema rules a v1 CRD's openAPIV3Schema must follow (the common ones)."""
    if not isinstance(node, dict):
        return [required(field)] if root else []
    errors: list[FieldError] = []
    kind = node.get("type")
    if root and not kind:
        errors.append(required(f"{field}.type", "must not be empty at the root"))
    elif root and kind != "object":
        errors.append(not_supported(f"{field}.type", kind, ["object"]))
    elif kind and kind not in _TYPES:
        errors.append(not_supported(f"{field}.type", kind, _TYPES))
    for name, child in (node.get("properties") or {}).items():
        cfield = f"{field}.properties[{name}]"
        if (
            isinstance(child, dict)
            and not child.get("type")
            and not (
                child.get("x-kubernetes-int-or-string")
                or child.get("x-kubernetes-preserve-unknown-fields")
            )
        ):
            errors.append(
                required(f"{cfield}.type", "must not be empty for specified object fields")
            )
        errors += _schema(child, cfield)
    if kind == "array":
        if not isinstance(node.get("items"), dict):
            errors.append(required(f"{field}.items", "must be specified"))
        else:
            items = node["items"]
            if not items.get("type") and not (
                items.get("x-kubernetes-int-or-string")
                or items.get("x-kubernetes-preserve-unknown-fields")
            ):
                errors.append(
                    required(f"{field}.items.type", "must not be empty for specified array items")
                )
            errors += _schema(items, f"{field}.items")
        list_type = node.get("x-kubernetes-list-type")
        if list_type is not None and list_type not in ("atomic", "map", "set"):
            errors.append(
                not_supported(
                    f"{field}.x-kubernetes-list-type", list_type, ["atomic", "map", "set"]
                )
            )
        if list_type == "map" and not node.get("x-kubernetes-list-map-keys"):
            errors.append(
                required(
                    f"{field}.x-kubernetes-list-map-keys",
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        if node.get("properties"):
            errors.append(
                invalid(
                    f"{field}.additionalProperties",
                    GoValue("apiextensions.JSONSchemaPropsOrBool{...}"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        errors += _schema(additional, f"{field}.additionalProperties")
    return errors


def crd(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = as_dict(obj.get("spec"))
    crd_names = as_dict(spec.get("names"))
    errors: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errors.append(required("spec.group"))
    else:
        errors += [invalid("spec.group", group, m) for m in names.dns1123_subdomain(group)]
        if "." not in group:
            errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    for key in ("plural", "singular", "kind", "listKind"):
        value = crd_names.get(key) or ""
        if not value and key in ("plural", "kind"):
            errors.append(required(f"spec.names.{key}"))
        elif value and key in ("plural", "singular"):
            errors += [invalid(f"spec.names.{key}", value, m) for m in names.dns1035_label(value)]
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        errors.append(not_supported("spec.scope", scope or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        version = as_dict(version)
        field = f"spec.versions[{i}]"
        name = version.get("name") or ""
        if not name:
            errors.append(required(f"{field}.name"))
        else:
            errors += [invalid(f"{field}.name", name, m) for m in names.dns1035_label(name)]
            if name in seen:
                errors.append(duplicate(f"{field}.name", name))
            seen.add(name)
        storage += 1 if version.get("storage") else 0
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errors.append(required(f"{field}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errors += _schema(schema, f"{field}.schema.openAPIV3Schema", root=True)
    if storage != 1:
        errors.append(
            invalid(
                "spec.versions",
                GoValue(
                    "[]apiextensions.CustomResourceDefinitionVersion(nil)"
                    if not versions
                    else "[]apiextensions.CustomResourceDefinitionVersion{...}"
                ),
                "must have exactly one version marked as storage version",
            )
        )
    expected = f"{crd_names.get('plural', '')}.{group}"
    if obj["metadata"].get("name") != expected:
        errors.append(
            invalid(
                "metadata.name",
                obj["metadata"].get("name", ""),
                'must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("preserveUnknownFields"):
        errors.append(
            invalid(
                "spec.preserveUnknownFields",
                True,
                "must be false in order to use defaults in the schema",
            )
        )
    if old is not None:
        old_spec = old.get("spec") or {}
        for key in ("group", "scope"):
            if old_spec.get(key) and spec.get(key) != old_spec.get(key):
                errors.append(immutable(f"spec.{key}", spec.get(key, "")))
    return errors
