"""The garbage collector and namespace controller: what a real cluster finishes after a delete.

A delete returns at once; the work is done here, later (``delay`` seconds after it became due):
- dependents whose owners (``ownerReferences``, by uid) are all gone are deleted; references to
  owners that are gone are dropped while another owner remains;
- an owner deleted with ``propagationPolicy: Foreground`` (finalizer ``foregroundDeletion``) loses
  its dependents first, then the finalizer; with ``Orphan`` (finalizer ``orphan``) its dependents
  lose their reference to it, then it loses the finalizer;
- a namespace being deleted (``Terminating``) has its contents deleted, and goes once empty.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .errors import ApiError
from .resources import ResourceType
from .store import Object, ObjectStore

log = logging.getLogger(__name__)

MANAGER = "generic-garbage-collector"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class GarbageCollector:
    """Runs :meth:`collect` in a thread after every change, or call it directly in tests."""

    def __init__(self, store: ObjectStore, *, delay: float = 0.1) -> None:
        self.store = store
        self.delay = delay
        #: Seconds between passes when nothing is pending (a change that can give work wakes
        #: it at once); a benchmark that changes nothing may let it idle longer.
        self.idle_interval = 1.0
        self._due: dict[tuple[str, str], float] = {}  # (what, uid) -> monotonic time first seen
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        store.subscribe(self._notice)

    def _notice(self, event: str, rtype: ResourceType, obj: Object) -> None:
        """Wake up only for changes that can give work: a pass lists every object."""
        meta = obj.get("metadata") or {}
        if (
            event == "DELETED"
            or meta.get("deletionTimestamp")
            or rtype.kind == "CustomResourceDefinition"
        ):
            self._wake.set()

    # --- thread ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-kube-gc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                pending = self.collect()
            except Exception:  # keep collecting; one bad object must not stop the collector
                log.exception("garbage collection pass failed")
                pending = True
            self._wake.wait(timeout=max(self.delay / 2, 0.02) if pending else self.idle_interval)
            self._wake.clear()

    # --- one pass ------------------------------------------------------------------------------

    def _ready(self, what: str, uid: str) -> bool:
        """Whether work noticed earlier has waited ``delay`` seconds (and note it if new)."""
        first = self._due.setdefault((what, uid), time.monotonic())
        return time.monotonic() - first >= self.delay

    def _objects(self) -> list[tuple[ResourceType, Object]]:
        seen: set[tuple[str, str]] = set()
        out = []
        for rtype in self.store.registry.all():
            if rtype.key in seen:
                continue
            seen.add(rtype.key)
            out += [(rtype, item) for item in self.store.list_metadata(rtype)]
        return out

    def collect(self) -> bool:
        """One pass; True while work is still pending (not yet due, or blocked)."""
        pending = self.store.establish_crds()  # the establishing controller runs here too
        objects = self._objects()
        by_uid = {obj["metadata"]["uid"]: obj for _, obj in objects}
        for rtype, obj in objects:
            if obj["metadata"].get("ownerReferences"):
                pending |= self._dependent(rtype, obj, by_uid)
        for rtype, obj in objects:
            finalizers = obj["metadata"].get("finalizers") or []
            if obj["metadata"].get("deletionTimestamp") and (
                FOREGROUND in finalizers or ORPHAN in finalizers
            ):
                pending |= self._owner(rtype, obj, objects)
        for rtype, obj in objects:
            terminating = obj["metadata"].get("deletionTimestamp")
            if rtype.kind == "Namespace" and not rtype.custom and terminating:
                pending |= self._namespace(obj, objects)
        self._due = {k: v for k, v in self._due.items() if k[1] in by_uid}
        return pending

    def _dependent(self, rtype: ResourceType, obj: Object, by_uid: dict[str, Object]) -> bool:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        owners = [by_uid.get(ref.get("uid", "")) for ref in refs]
        gone = [ref for ref, owner in zip(refs, owners, strict=True) if owner is None]
        orphaning = [
            ref
            for ref, owner in zip(refs, owners, strict=True)
            if owner is not None
            and ORPHAN in (owner["metadata"].get("finalizers") or [])
            and owner["metadata"].get("deletionTimestamp")
        ]
        foreground = any(
            owner is not None
            and owner["metadata"].get("deletionTimestamp")
            and FOREGROUND in (owner["metadata"].get("finalizers") or [])
            for owner in owners
        )
        if meta.get("deletionTimestamp"):
            return bool(gone or foreground)
        if not (gone or orphaning or foreground):
            return False
        if not self._ready("dependent", meta["uid"]):
            return True
        if foreground or len(gone) == len(refs):
            self._delete(rtype, obj)
        else:
            drop = {ref.get("uid") for ref in gone + orphaning}
            self._set_owners(rtype, obj, [r for r in refs if r.get("uid") not in drop])
        return False

    def _owner(
        self, rtype: ResourceType, owner: Object, objects: list[tuple[ResourceType, Object]]
    ) -> bool:
        uid = owner["metadata"]["uid"]
        dependents = [
            (t, o)
            for t, o in objects
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
        ]
        if dependents or not self._ready("owner", uid):
            return True
        finalizers = owner["metadata"].get("finalizers") or []
        self._set_finalizers(rtype, owner, [f for f in finalizers if f not in (FOREGROUND, ORPHAN)])
        return False

    def _namespace(self, namespace: Object, objects: list[tuple[ResourceType, Object]]) -> bool:
        name = namespace["metadata"]["name"]
        if not self._ready("namespace", namespace["metadata"]["uid"]):
            return True
        contents = [
            (t, o) for t, o in objects if t.namespaced and o["metadata"].get("namespace") == name
        ]
        for rtype, obj in contents:
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(rtype, obj)
        if contents:
            return True
        self.store.finalize_namespace(name)
        return False

    # --- writes --------------------------------------------------------------------------------

    def _delete(self, rtype: ResourceType, obj: Object) -> None:
        meta = obj["metadata"]
        try:
            self.store.delete_object(
                rtype,
                meta.get("namespace", ""),
                meta["name"],
                preconditions={"uid": meta["uid"]},
            )
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    def _mutate(self, rtype: ResourceType, obj: Object, field: str, value: Any) -> None:
        meta = obj["metadata"]

        def change(live: Object) -> Object:
            live["metadata"][field] = value
            if not value:
                live["metadata"].pop(field)
            return live

        try:
            self.store.mutate_object(
                rtype, meta.get("namespace", ""), meta["name"], change, manager=MANAGER
            )
        except ApiError as exc:
            if exc.code != 404:
                raise

    def _set_owners(self, rtype: ResourceType, obj: Object, refs: list[Object]) -> None:
        self._mutate(rtype, obj, "ownerReferences", refs)

    def _set_finalizers(self, rtype: ResourceType, obj: Object, finalizers: list[str]) -> None:
        self._mutate(rtype, obj, "finalizers", finalizers)
