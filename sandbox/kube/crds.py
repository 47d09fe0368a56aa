"""CustomResourceDefinitions: the resource types a CRD makes the server serve."""

from __future__ import annotations

from typing import Any

from .resources import ResourceType

_SUBRESOURCES = ("status", "scale")


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One :class:`ResourceType` per served version of ``crd``."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (group and plural and kind):
        return []
    types = []
    for version in spec.get("versions") or []:
        if not version.get("served", True) or not version.get("name"):
            continue
        declared = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=group,
                version=version["name"],
                kind=kind,
                plural=plural,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                subresources=frozenset(s for s in _SUBRESOURCES if s in declared),
                categories=tuple(names.get("categories") or ()),
                has_generation=True,
                custom=True,
            )
        )
    return types
