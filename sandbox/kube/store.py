"""The in-memory object store: every write, with versions, ownership, finalizers and watches."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any

from . import kinds
from .crds import crd_resource_types
from .errors import ApiError, bad_request, conflict, forbidden, invalid, not_found
from .managed import ManagedFields, tracked_part, untracked_metadata
from .resources import Registry, ResourceType, StorageKey
from .selectors import Predicate
from .watch import INITIAL_EVENTS_END, Change, History, Watcher, WatchEvent

log = logging.getLogger(__name__)

Object = dict[str, Any]
Listener = Callable[[str, ResourceType, Object], None]

# Metadata the server owns: a write never changes them through the body.
_SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "name",
    "namespace",
)
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


def _scope(rtype: ResourceType, subresource: str) -> str:
    if subresource == "status":
        return "status"
    return "main" if rtype.has_status else "all"


def _spec_part(obj: Object) -> Object:
    """What a generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class ObjectStore:
    """Thread-safe objects by resource type, namespace and name, with a global resourceVersion.

    The ``*_object`` methods take a :class:`ResourceType` and serve the HTTP layer; the short
    methods (``get``, ``list``, ``create``, ``apply``, ...) take ``apiVersion``/``kind`` and
    serve seeding, controllers and tests.
    """

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
            old=copy.deepcopy(old),
            new=copy.deepcopy(new),
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
        body = copy.deepcopy(obj)
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

    def _check_namespace(self, rtype: ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns_type = self.registry.by_kind("v1", "Namespace")
        assert ns_type is not None
        ns = self._bucket(ns_type).get(("", namespace))
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden(
                f'{rtype.plural} "" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated"
            )

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

    # --- create ----------------------------------------------------------------------------

    def create_object(
        self,
        rtype: ResourceType,
        namespace: str,
        body: Object,
        *,
        manager: str,
        dry_run: bool = False,
        managed: ManagedFields | None = None,
    ) -> Object:
        """Create from ``body``; ``managed`` carries the entries of a server-side apply create."""
        with self._lock:
            obj = copy.deepcopy(body)
            obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
            meta = obj.setdefault("metadata", {})
            if meta.get("resourceVersion"):
                raise bad_request("resourceVersion should not be set on objects to be created")
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise invalid(
                        rtype.kind,
                        rtype.group,
                        "",
                        [("metadata.name", "Required value: name or generateName is required")],
                    )
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            if rtype.namespaced:
                meta["namespace"] = namespace
                self._check_namespace(rtype, namespace)
            else:
                meta.pop("namespace", None)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rtype.has_generation:
                meta["generation"] = 1
            if rtype.has_status:
                obj.pop("status", None)  # status is written through /status only
            kinds.apply_defaults(rtype, obj, None, self._alloc)
            kinds.validate(rtype, obj)
            if managed is None:
                managed = ManagedFields(None)
                managed.record_update(
                    None,
                    tracked_part(obj, _scope(rtype, "")),
                    manager=manager,
                    subresource="",
                    api_version=rtype.api_version,
                    now=meta["creationTimestamp"],
                    builtin=not rtype.custom,
                )
            if managed.entries:
                meta["managedFields"] = managed.entries
            bucket = self._bucket(rtype)
            ident = (meta.get("namespace", ""), meta["name"])
            if ident in bucket:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{rtype.plural}{"." + rtype.group if rtype.group else ""} "{meta["name"]}" already exists',
                    details={"name": meta["name"], "group": rtype.group, "kind": rtype.plural},
                )
            if dry_run:
                return self._output(rtype, obj)
            meta["resourceVersion"] = self._next_rv()
            bucket[ident] = obj
            self._emit(rtype, "ADDED", None, obj)
            if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
                self._sync_crd(obj)
            return self._output(rtype, obj)

    # --- update, patch, apply --------------------------------------------------------------

    def replace_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Object,
        *,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Object:
        """PUT: replace the object (or its status), honouring a resourceVersion precondition."""
        with self._lock:
            live = self._live(rtype, namespace, name)
            return self._replace(
                rtype, live, body, manager=manager, subresource=subresource, dry_run=dry_run
            )

    def mutate_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[Object], Object],
        *,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Object:
        """PATCH: ``change`` maps the live object (as served) to the new one, under the lock."""
        with self._lock:
            live = self._live(rtype, namespace, name)
            candidate = change(self._output(rtype, live))
            if not isinstance(candidate, dict):
                raise bad_request("the patch must produce an object")
            return self._replace(
                rtype, live, candidate, manager=manager, subresource=subresource, dry_run=dry_run
            )

    def _replace(
        self,
        rtype: ResourceType,
        live: Object,
        body: Object,
        *,
        manager: str,
        subresource: str,
        dry_run: bool,
    ) -> Object:
        body_meta = body.get("metadata") or {}
        wanted_rv = body_meta.get("resourceVersion")
        if wanted_rv and wanted_rv != live["metadata"]["resourceVersion"]:
            raise conflict(
                rtype.plural,
                rtype.group,
                live["metadata"]["name"],
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(live)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rtype.has_status:
            new.pop("status", None)
            if "status" in live:
                new["status"] = copy.deepcopy(live["status"])
        new.setdefault("metadata", {})
        scope = _scope(rtype, subresource)
        # A write that carries managedFields sets them ([] clears them); otherwise they stay.
        given = body_meta.get("managedFields")
        managed = ManagedFields(live["metadata"].get("managedFields") if given is None else given)
        managed.record_update(
            tracked_part(live, scope),
            tracked_part(new, scope),
            manager=manager,
            subresource=subresource,
            api_version=rtype.api_version,
            now=now_rfc3339(),
            builtin=not rtype.custom,
        )
        return self._commit(rtype, live, new, managed, (manager, "Update", subresource), dry_run)

    def apply_object(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Object,
        *,
        manager: str,
        force: bool = False,
        subresource: str = "",
        dry_run: bool = False,
    ) -> tuple[Object, bool]:
        """Server-side apply; returns the object and whether it was created."""
        if not isinstance(body, dict) or body.get("kind") != rtype.kind:
            raise bad_request(f"the applied object must be of kind {rtype.kind}")
        if body.get("apiVersion") not in (rtype.api_version, None):
            raise bad_request(f"the applied object must have apiVersion {rtype.api_version}")
        meta = body.get("metadata") or {}
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        scope = _scope(rtype, subresource)
        applied = tracked_part(body, scope)
        with self._lock:
            live = self._bucket(rtype).get((namespace if rtype.namespaced else "", name))
            managed = ManagedFields(live["metadata"].get("managedFields") if live else None)
            merged = managed.apply(
                tracked_part(live, scope) if live else {},
                applied,
                manager=manager,
                force=force,
                subresource=subresource,
                api_version=rtype.api_version,
                now=now_rfc3339(),
                builtin=not rtype.custom,
                conflict_context=(rtype.plural, rtype.group, name),
            )
            if live is None:
                if subresource:
                    raise not_found(rtype.plural, rtype.group, name)
                merged.setdefault("metadata", {})["name"] = name
                created = self.create_object(
                    rtype, namespace, merged, manager=manager, dry_run=dry_run, managed=managed
                )
                return created, True
            new = self._assemble(live, merged, scope)
            return self._commit(
                rtype, live, new, managed, (manager, "Apply", subresource), dry_run
            ), False

    @staticmethod
    def _assemble(live: Object, tracked: Object, scope: str) -> Object:
        """The full object from the live one and a new tracked part."""
        if scope == "status":
            new = copy.deepcopy(live)
            if "status" in tracked:
                new["status"] = copy.deepcopy(tracked["status"])
            else:
                new.pop("status", None)
            return new
        new = {k: copy.deepcopy(v) for k, v in tracked.items() if k != "metadata"}
        new["apiVersion"], new["kind"] = live["apiVersion"], live["kind"]
        new["metadata"] = {
            **untracked_metadata(live["metadata"]),
            **copy.deepcopy(tracked.get("metadata", {})),
        }
        if scope == "main" and "status" in live:
            new["status"] = copy.deepcopy(live["status"])
        return new

    def _commit(
        self,
        rtype: ResourceType,
        live: Object,
        new: Object,
        managed: ManagedFields,
        actor: tuple[str, str, str],
        dry_run: bool,
    ) -> Object:
        """Finish an update: server metadata, defaults, validation, generation, no-op check."""
        meta, live_meta = new.setdefault("metadata", {}), live["metadata"]
        for field in _SERVER_METADATA:
            if field in live_meta:
                meta[field] = live_meta[field]
            else:
                meta.pop(field, None)
        if live_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(live_meta.get("finalizers") or [])
            if added:
                raise invalid(
                    rtype.kind,
                    rtype.group,
                    meta["name"],
                    [
                        (
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being deleted",
                        )
                    ],
                )
        kinds.apply_defaults(rtype, new, live, self._alloc)
        kinds.validate(rtype, new)
        if rtype.has_generation and _spec_part(new) != _spec_part(live):
            meta["generation"] = int(live_meta.get("generation", 1)) + 1
        meta["managedFields"] = managed.entries
        if not managed.entries:
            meta.pop("managedFields")
        if new == live:
            return self._output(rtype, live)  # a no-op write keeps the resourceVersion
        managed.touch(*actor, now=now_rfc3339())
        if managed.entries:
            meta["managedFields"] = managed.entries
        if dry_run:
            return self._output(rtype, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(rtype, new)
            return self._output(rtype, new)
        meta["resourceVersion"] = self._next_rv()
        self._bucket(rtype)[(meta.get("namespace", ""), meta["name"])] = new
        self._emit(rtype, "MODIFIED", live, new)
        if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
            self._sync_crd(new)
        return self._output(rtype, new)

    # --- delete ----------------------------------------------------------------------------

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
            for field in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field)
                if wanted and wanted != meta.get(field):
                    raise conflict(
                        rtype.plural,
                        rtype.group,
                        name,
                        f"Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {meta.get(field)}",
                    )
            if meta.get("deletionTimestamp"):
                return self._output(rtype, live), False
            # Namespaces and CRDs empty themselves first (the real ones carry a finalizer for it).
            waits = bool(meta.get("finalizers")) or (
                rtype.kind in ("Namespace", "CustomResourceDefinition") and not rtype.custom
            )
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

    # --- watch -----------------------------------------------------------------------------

    def watch_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        predicate: Predicate,
        *,
        resource_version: str | None,
        send_initial_events: bool = False,
    ) -> Watcher:
        """A watcher primed per the resourceVersion rules; close it when done."""
        with self._lock:
            watcher = Watcher(rtype.key, namespace, predicate)
            if send_initial_events or resource_version in (None, "", "0"):
                items, rv = self.list_objects(rtype, namespace, predicate)
                for item in items:
                    watcher.push(WatchEvent("ADDED", item))
                if send_initial_events:
                    watcher.push(
                        WatchEvent(
                            "BOOKMARK",
                            {
                                "kind": rtype.kind,
                                "apiVersion": rtype.api_version,
                                "metadata": {
                                    "resourceVersion": rv,
                                    "annotations": {INITIAL_EVENTS_END: "true"},
                                },
                            },
                        )
                    )
            else:
                try:
                    since = int(resource_version)
                except ValueError as exc:
                    raise bad_request(f"invalid resourceVersion {resource_version!r}") from exc
                if since < self._history.floor:
                    watcher.push(
                        WatchEvent(
                            "ERROR",
                            ApiError(
                                410,
                                "Expired",
                                f"too old resource version: {since} ({self._history.floor})",
                            ).status(),
                        )
                    )
                    watcher.close()
                    return watcher
                for change in self._history.since(since):
                    watcher.offer(change)
            self._watchers.append(watcher)
            return watcher

    def stop_watch(self, watcher: Watcher) -> None:
        with self._lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)
        watcher.close()

    def close_all_watches(self) -> None:
        with self._lock:
            watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.close()

    # --- Python API (seeding, controllers, tests) --------------------------------------------

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        rtype = self.registry.by_kind(api_version, kind)
        if rtype is None:
            raise ApiError(
                404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"'
            )
        return rtype

    def _where(self, obj: Object) -> tuple[ResourceType, str, str]:
        rtype = self.resource_type(obj.get("apiVersion", ""), obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        namespace = (meta.get("namespace") or "default") if rtype.namespaced else ""
        return rtype, namespace, meta.get("name", "")

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Object:
        """The object, or :class:`ApiError` 404."""
        rtype = self.resource_type(api_version, kind)
        return self.get_object(rtype, (namespace or "default") if rtype.namespaced else "", name)

    def find(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Object | None:
        """The object, or None when it does not exist."""
        try:
            return self.get(api_version, kind, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Object]:
        """Objects of a kind (all namespaces when ``namespace`` is None), optionally selected."""
        from .selectors import field_selector as by_field
        from .selectors import label_selector as by_label

        labels, fields = by_label(label_selector), by_field(field_selector)
        rtype = self.resource_type(api_version, kind)
        items, _ = self.list_objects(rtype, namespace, lambda o: labels(o) and fields(o))
        return items

    def create(self, obj: Object, *, field_manager: str = "sandbox") -> Object:
        rtype, namespace, _ = self._where(obj)
        return self.create_object(rtype, namespace, obj, manager=field_manager)

    def apply(
        self,
        obj: Object,
        *,
        field_manager: str = "sandbox",
        force: bool = True,
        subresource: str = "",
    ) -> Object:
        """Server-side apply ``obj`` (a no-op apply leaves the resourceVersion alone)."""
        rtype, namespace, name = self._where(obj)
        applied, _ = self.apply_object(
            rtype, namespace, name, obj, manager=field_manager, force=force, subresource=subresource
        )
        return applied

    def update(self, obj: Object, *, field_manager: str = "sandbox") -> Object:
        """Replace ``obj`` (a resourceVersion in it is a precondition)."""
        rtype, namespace, name = self._where(obj)
        return self.replace_object(rtype, namespace, name, obj, manager=field_manager)

    def update_status(self, obj: Object, *, field_manager: str = "sandbox") -> Object:
        """Replace the status of ``obj`` through the status subresource."""
        rtype, namespace, name = self._where(obj)
        subresource = "status" if rtype.has_status else ""
        return self.replace_object(
            rtype, namespace, name, obj, manager=field_manager, subresource=subresource
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete (or start deleting); False when the object did not exist."""
        rtype = self.resource_type(api_version, kind)
        try:
            self.delete_object(rtype, (namespace or "default") if rtype.namespaced else "", name)
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return True
