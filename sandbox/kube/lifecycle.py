"""Deletion: finalizers, deletionTimestamp, namespace and CRD cascades."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from .errors import conflict, forbidden
from .resources import ResourceType, StorageKey
from .storebase import Object, StoreBase, holds_contents, now_rfc3339

# propagationPolicy -> the finalizer that hands the object to the garbage collector.
_GC_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}
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
        propagation: str | None = None,
    ) -> tuple[Object, bool]:
        """Delete, or start deleting; returns the last state and whether it is gone already.

        ``propagation`` Foreground or Orphan holds the object back with the garbage collector's
        finalizer (``foregroundDeletion`` / ``orphan``) until it has dealt with the dependents.
        """
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
            gc_finalizer = _GC_FINALIZERS.get(propagation or "")
            waits = bool(meta.get("finalizers")) or holds_contents(rtype) or bool(gc_finalizer)
            if dry_run:
                return self._output(rtype, live), not waits
            if not waits:
                self._remove(rtype, live)
                return self._output(rtype, live), True
            new = json_copy(live)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if gc_finalizer and gc_finalizer not in (meta.get("finalizers") or []):
                new["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), gc_finalizer]
            if rtype.kind == "Namespace":
                new["status"] = {"phase": "Terminating"}
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._bucket(rtype)[(meta.get("namespace", ""), name)] = new
            self._emit(rtype, "MODIFIED", live, new)
            # A namespace's contents go later, through the namespace controller (sandbox.kube.gc).
            if rtype.kind == "CustomResourceDefinition":
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
        final = json_copy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rtype, "DELETED", gone, final)
        if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
            spec = obj.get("spec", {})
            self.registry.unregister(spec.get("group", ""), spec.get("names", {}).get("plural", ""))
            self._objects.pop(
                (spec.get("group", ""), spec.get("names", {}).get("plural", "")), None
            )
        self._reap()

    def finalize_namespace(self, name: str) -> bool:
        """Remove a terminating namespace once it is empty (the namespace controller's last step)."""
        with self._lock:
            ns_type = self.registry.by_kind("v1", "Namespace")
            if ns_type is None:
                return False
            namespace = self._bucket(ns_type).get(("", name))
            if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
                return False
            if namespace["metadata"].get("finalizers") or any(
                obj["metadata"].get("namespace") == name
                for bucket in self._objects.values()
                for obj in bucket.values()
            ):
                return False
            self._remove(ns_type, namespace)
            return True

    def _reap(self) -> None:
        """Remove terminating CRDs once no custom resource is left (namespaces: finalize_namespace)."""
        crd_type = self.registry.by_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        if crd_type is None:
            return
        for crd in list(self._bucket(crd_type).values()):
            meta, spec = crd["metadata"], crd.get("spec", {})
            if not meta.get("deletionTimestamp") or meta.get("finalizers"):
                continue
            key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
            if not self._objects.get(key):
                self._remove(crd_type, crd)
