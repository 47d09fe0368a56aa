"""Deletion: finalizers, deletionTimestamp, namespace and CRD cascades."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .crds import crd_resource_types
from .errors import conflict, forbidden
from .resources import ResourceType, StorageKey
from .storebase import Object, StoreBase, holds_contents, now_rfc3339

# The API server refuses to delete these, as a real one does.
_UNDELETABLE = frozenset({"default", "kube-system", "kube-public"})


class LifecycleMixin(StoreBase):
    """Delete now, or mark deleting until finalizers (or contents) are gone."""

    def delete_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[Object, bool]:
        """Delete, or start deleting; returns the last state and whether it is gone already."""
        with self._lock:
            live = self._live(rtype, namespace, name)
            meta = live["metadata"]
            if rtype.kind == "Namespace" and not rtype.custom and name in _UNDELETABLE:
                raise forbidden(
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted'
                )
            for field in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != meta.get(field):
                    raise conflict(
                        rtype.plural,
                        rtype.group,
                        name,
                        f"Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {meta.get(field)}",
                    )
            self._admit(rtype, "DELETE", live, live, "", dry_run=dry_run)
            if meta.get("deletionTimestamp"):
                return self._output(rtype, live), False
            # Namespaces and CRDs empty themselves first (the real ones carry a finalizer for it).
            waits = bool(meta.get("finalizers")) or holds_contents(rtype)
            if dry_run:
                return self._output(rtype, live), not waits
            if not waits:
                self._remove(rtype, live)
                return self._output(rtype, live), True
            new = copy.deepcopy(live)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rtype.kind == "Namespace":
                new["status"] = {"phase": "Terminating"}
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._bucket(rtype)[(meta.get("namespace", ""), name)] = new
            self._emit(rtype, "MODIFIED", live, new)
            if rtype.kind == "Namespace":
                self._delete_contents(
                    lambda t, obj: t.namespaced and obj["metadata"].get("namespace") == name
                )
            elif rtype.kind == "CustomResourceDefinition":
                group = new["spec"]["group"]
                plural = new["spec"]["names"]["plural"]
                self._delete_contents(lambda t, obj: t.key == (group, plural))
            self._reap()
            return self._output(rtype, new), False

    def _delete_contents(self, selects: Callable[[ResourceType, Object], bool]) -> None:
        """Delete every object ``selects`` picks (finalizers still hold theirs back)."""
        seen: set[StorageKey] = set()
        for rtype in self.registry.all():
            if rtype.key in seen:
                continue
            seen.add(rtype.key)
            for obj in list(self._bucket(rtype).values()):
                if selects(rtype, obj) and not obj["metadata"].get("deletionTimestamp"):
                    self.delete_object(
                        rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                    )

    def _remove(self, rtype: ResourceType, obj: Object) -> None:
        meta = obj["metadata"]
        gone = self._bucket(rtype).pop((meta.get("namespace", ""), meta["name"]), None)
        if gone is None:
            return
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rtype, "DELETED", gone, final)
        if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
            spec = obj.get("spec", {})
            self.registry.unregister(spec.get("group", ""), spec.get("names", {}).get("plural", ""))
            self._objects.pop(
                (spec.get("group", ""), spec.get("names", {}).get("plural", "")), None
            )
        self._reap()

    def _reap(self) -> None:
        """Remove terminating namespaces and CRDs once nothing is left in them."""
        ns_type = self.registry.by_kind("v1", "Namespace")
        crd_type = self.registry.by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        for holder_type in (ns_type, crd_type):
            if holder_type is None:
                continue
            for holder in list(self._bucket(holder_type).values()):
                meta = holder["metadata"]
                if not meta.get("deletionTimestamp") or meta.get("finalizers"):
                    continue
                if holder_type is ns_type:
                    name = meta["name"]
                    busy = any(
                        obj["metadata"].get("namespace") == name
                        for key, bucket in self._objects.items()
                        for obj in bucket.values()
                    )
                else:
                    spec = holder.get("spec", {})
                    busy = bool(
                        self._objects.get(
                            (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
                        )
                    )
                if not busy:
                    self._remove(holder_type, holder)

    def _sync_crd(self, crd: Object) -> None:
        """Serve (or stop serving) the versions a CRD declares."""
        spec = crd.get("spec", {})
        self.registry.unregister(spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        for rtype in crd_resource_types(crd):
            self.registry.register(rtype)
