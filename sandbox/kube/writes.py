"""Writes: create, replace, patch and server-side apply, with the no-op rule of real servers."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

from sandbox.kube.jsoncopy import json_copy

from . import kinds
from .errors import ApiError, bad_request, conflict, invalid, not_found
from .managed import ManagedFields, tracked_part, untracked_metadata
from .resources import ResourceType
from .storebase import Object, StoreBase, holds_contents, now_rfc3339, scope_of, spec_part

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


class WriteMixin(StoreBase):
    """Create, update, patch and apply; every update ends in :meth:`_commit`."""

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
            obj = json_copy(body)
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
                self._check_namespace(rtype, namespace, meta["name"])
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
            if rtype.has_status and not rtype.custom:
                obj.setdefault("status", {})  # a built-in status is a struct: served as {}
            # As a real server: mutating webhooks, then validation, then validating webhooks.
            self._mutate(rtype, "CREATE", obj, None, "", dry_run=dry_run)
            self._validate(rtype, obj, None)
            self._admit(rtype, "CREATE", obj, None, "", dry_run=dry_run)
            if managed is None:
                managed = ManagedFields(None)
                managed.record_update(
                    None,
                    tracked_part(obj, scope_of(rtype, "")),
                    manager=manager,
                    subresource="",
                    api_version=rtype.api_version,
                    now=meta["creationTimestamp"],
                    builtin=self.list_keys(rtype),
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
        new = json_copy(body)
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        if subresource == "status":
            status = new.get("status")
            new = json_copy(live)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rtype.has_status:
            new.pop("status", None)
            if "status" in live:
                new["status"] = json_copy(live["status"])
        new.setdefault("metadata", {})
        scope = scope_of(rtype, subresource)
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
            builtin=self.list_keys(rtype),
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
        scope = scope_of(rtype, subresource)
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
                builtin=self.list_keys(rtype),
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
            new = json_copy(live)
            if "status" in tracked:
                new["status"] = json_copy(tracked["status"])
            else:
                new.pop("status", None)
            return new
        new = {k: json_copy(v) for k, v in tracked.items() if k != "metadata"}
        new["apiVersion"], new["kind"] = live["apiVersion"], live["kind"]
        new["metadata"] = {
            **untracked_metadata(live["metadata"]),
            **json_copy(tracked.get("metadata", {})),
        }
        if scope == "main" and "status" in live:
            new["status"] = json_copy(live["status"])
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
        new["apiVersion"] = live["apiVersion"]  # one storage for every served version
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
        # Before the no-op check: a real server calls webhooks for unchanged writes too.
        self._mutate(rtype, "UPDATE", new, live, actor[2], dry_run=dry_run)
        self._validate(rtype, new, live)
        self._admit(rtype, "UPDATE", new, live, actor[2], dry_run=dry_run)
        if rtype.has_generation and spec_part(new) != spec_part(live):
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
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not holds_contents(rtype)
        ):
            self._remove(rtype, new)  # the last finalizer is gone
            return self._output(rtype, new)
        meta["resourceVersion"] = self._next_rv()
        self._bucket(rtype)[(meta.get("namespace", ""), meta["name"])] = new
        self._emit(rtype, "MODIFIED", live, new)
        if rtype.kind == "CustomResourceDefinition" and not rtype.custom:
            self._sync_crd(new)
        if meta.get("deletionTimestamp"):
            self._reap()
        return self._output(rtype, new)
