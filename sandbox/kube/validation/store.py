"""The store's validation step: built-in rules, or a custom resource's CRD schema (prune, check)."""

from __future__ import annotations

from typing import Any

from sandbox.kube.patching import ListKeys
from sandbox.kube.resources import ResourceType
from sandbox.kube.storebase import Object, StoreBase

from . import crvalues
from . import validate as validate_builtin
from .crdefaults import apply_defaults
from .fielderrors import invalid_error
from .meta import validate_object_meta
from .names import dns1123_subdomain
from .schema import Node, builtin_schema, crd_schema, prune_in_place

_CRD_API = "apiextensions.k8s.io/v1"


class ValidationMixin(StoreBase):
    """Validates every write before admission, as kube-apiserver does."""

    def crd_version_schema(self, rtype: ResourceType) -> dict[str, Any] | None:
        """The openAPIV3Schema a custom resource's CRD declares for its version."""
        crd_type = self.registry.by_kind(_CRD_API, "CustomResourceDefinition")
        if crd_type is None:
            return None
        crd = self._bucket(crd_type).get(("", f"{rtype.plural}.{rtype.group}"))
        for version in ((crd or {}).get("spec") or {}).get("versions") or []:
            if version.get("name") == rtype.version:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                return schema if isinstance(schema, dict) else None
        return None

    def schema_node(self, rtype: ResourceType) -> Node | None:
        """The schema unknown fields are found with (None: no schema, anything goes)."""
        if not rtype.custom:
            return builtin_schema(rtype.group, rtype.version, rtype.kind)
        schema = self.crd_version_schema(rtype)
        return crd_schema(schema) if schema is not None else None

    def list_keys(self, rtype: ResourceType) -> ListKeys:
        """Built-in patch metadata, or the list-map keys the CRD's schema declares."""
        if not rtype.custom:
            return True
        keys: dict[str, str] = {}

        def walk(node: Any) -> None:
            if not isinstance(node, dict):
                return
            for name, child in (node.get("properties") or {}).items():
                if isinstance(child, dict) and child.get("x-kubernetes-list-type") == "map":
                    map_keys = child.get("x-kubernetes-list-map-keys") or []
                    if len(map_keys) == 1:  # composite keys: left atomic here
                        keys.setdefault(name, map_keys[0])
                walk(child)
            walk(node.get("items"))
            walk(node.get("additionalProperties"))

        walk(self.crd_version_schema(rtype))
        return keys or False

    def _validate(self, rtype: ResourceType, obj: Object, old: Object | None) -> None:
        if not rtype.custom:
            validate_builtin(rtype, obj, old)
            return
        schema = self.crd_version_schema(rtype)
        if schema is not None:
            # A real server prunes what the structural schema does not declare, on every write,
            # then fills in the schema's defaults.
            prune_in_place(obj, crd_schema(schema))
            apply_defaults(obj, schema)
        meta = obj.get("metadata") or {}
        errors = validate_object_meta(
            meta, name_rule=dns1123_subdomain, namespaced=rtype.namespaced
        )
        if schema is not None:
            errors += crvalues.validate(obj, schema, status=rtype.has_status)
        if errors:
            raise invalid_error(rtype.kind, rtype.group, meta.get("name", ""), errors)
