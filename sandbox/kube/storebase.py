"""Store state and plumbing: buckets, resourceVersions, change events, reads."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sandbox.kube.jsoncopy import json_copy

from . import kinds
from .errors import forbidden, not_found
from .resources import Registry, ResourceType, StorageKey
from .selectors import Predicate
from .watch import Change, History, Watcher

log = logging.getLogger(__name__)

Object = dict[str, Any]
Listener = Callable[[str, ResourceType, Object], None]

_METADATA_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scope_of(rtype: ResourceType, subresource: str) -> str:
    if subresource == "status":
        return "status"
    return "main" if rtype.has_status else "all"


def spec_part(obj: Object) -> Object:
    """What a generation counts: everything but type, metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}


def holds_contents(rtype: ResourceType) -> bool:
    """Namespaces and CRDs, which go away only once what they hold is gone."""
    return not rtype.custom and rtype.kind in ("Namespace", "CustomResourceDefinition")


class StoreBase:
    """Thread-safe objects by resource type, namespace and name, with a global resourceVersion."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        self._lock = threading.RLock()
        self._objects: dict[StorageKey, dict[tuple[str, str], Object]] = {}
        self._rv = 0
        self._history = History()
        self._watchers: list[Watcher] = []
        self._listeners: list[Listener] = []
        self._alloc = kinds.Allocator()

    # --- plumbing --------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], Object]:
        return self._objects.setdefault(rtype.key, {})

    def _emit(self, rtype: ResourceType, kind: str, old: Object | None, new: Object) -> None:
        change = Change(
            rv=int(new["metadata"]["resourceVersion"]),
            key=rtype.key,
            namespace=new["metadata"].get("namespace", ""),
            type=kind,
            old=json_copy(old),
            new=json_copy(new),
        )
        self._history.append(change)
        for watcher in self._watchers:
            watcher.offer(change)
        for listener in self._listeners:
            try:
                listener(kind, rtype, new)
            except Exception:  # a broken listener must not break writes
                log.exception("store listener failed")

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(event_type, rtype, obj)`` after every change (under the store lock)."""
        with self._lock:
            self._listeners.append(listener)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _output(self, rtype: ResourceType, obj: Object) -> Object:
        """A copy as served through ``rtype`` (custom resources keep one storage for all versions).

        Keys come in the conventional order, so that YAML output reads like a real server's.
        """
        body = json_copy(obj)
        meta = body.pop("metadata", {})
        ordered_meta = {k: meta.pop(k) for k in _METADATA_ORDER if k in meta}
        ordered_meta.update(meta)
        out: Object = {"apiVersion": rtype.api_version, "kind": body.pop("kind", rtype.kind)}
        out["metadata"] = ordered_meta
        body.pop("apiVersion", None)
        status = body.pop("status", None)
        out.update(body)
        if status is not None:
            out["status"] = status
        return out

    def _check_namespace(self, rtype: ResourceType, namespace: str, name: str = "") -> None:
        if not rtype.namespaced:
            return
        ns_type = self.registry.by_kind("v1", "Namespace")
        assert ns_type is not None
        ns = self._bucket(ns_type).get(("", namespace))
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            # The NamespaceLifecycle admission plugin's refusal (apierrors.NewForbidden).
            resource = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
            error = forbidden(
                f'{resource} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated"
            )
            error.details = {"name": name, "kind": rtype.plural}
            if rtype.group:
                error.details["group"] = rtype.group
            error.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise error

    def _live(self, rtype: ResourceType, namespace: str, name: str) -> Object:
        obj = self._bucket(rtype).get((namespace if rtype.namespaced else "", name))
        if obj is None:
            raise not_found(rtype.plural, rtype.group, name)
        return obj

    # --- reads -----------------------------------------------------------------------------

    def get_object(self, rtype: ResourceType, namespace: str, name: str) -> Object:
        with self._lock:
            return self._output(rtype, self._live(rtype, namespace, name))

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        predicate: Predicate | None = None,
    ) -> tuple[list[Object], str]:
        """Matching objects sorted by namespace and name, and the list's resourceVersion."""
        with self._lock:
            items = [
                self._output(rtype, obj)
                for (ns, _), obj in sorted(self._bucket(rtype).items())
                if (namespace is None or ns == namespace) and (predicate is None or predicate(obj))
            ]
            return items, str(self._rv)

    def list_metadata(self, rtype: ResourceType) -> list[Object]:
        """Every object of ``rtype`` as ``{"metadata": ...}`` (a copy), sorted by namespace and
        name: for the garbage collector, which reads nothing else and looks at every object
        on each pass (copying whole objects, CRDs with their schemas, was most of its cost)."""
        with self._lock:
            return [
                {"metadata": json_copy(obj["metadata"])}
                for _, obj in sorted(self._bucket(rtype).items())
            ]

    # --- hooks the lifecycle mixin provides ----------------------------------------------------

    def _remove(self, rtype: ResourceType, obj: Object) -> None:
        raise NotImplementedError

    def _sync_crd(self, crd: Object) -> None:
        raise NotImplementedError

    def _reap(self) -> None:
        raise NotImplementedError

    def _mutate(
        self,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        *,
        dry_run: bool = False,
    ) -> None:
        """Mutating admission (may change ``obj`` in place); the admission mixin overrides it."""

    def list_keys(self, rtype: ResourceType) -> Any:
        """How the lists of ``rtype`` merge (see patching.ListKeys); the validation mixin knows."""
        return not rtype.custom

    def _validate(self, rtype: ResourceType, obj: Object, old: Object | None) -> None:
        """Validation before admission; the validation mixin overrides it."""

    def _admit(
        self,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        *,
        dry_run: bool = False,
    ) -> None:
        """Validating admission before a write; the admission mixin overrides it."""
