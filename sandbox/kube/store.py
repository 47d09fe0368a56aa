"""The in-memory object store: what the HTTP layer, controllers, seeding and tests use."""

from __future__ import annotations

from . import selectors
from .admission import AdmissionMixin
from .errors import ApiError, bad_request
from .establishing import EstablishingMixin
from .lifecycle import LifecycleMixin
from .resources import ResourceType
from .selectors import Predicate
from .storebase import Listener, Object, now_rfc3339
from .validation.store import ValidationMixin
from .watch import INITIAL_EVENTS_END, Watcher, WatchEvent
from .writes import WriteMixin

__all__ = ["Listener", "Object", "ObjectStore", "now_rfc3339"]


class ObjectStore(WriteMixin, LifecycleMixin, EstablishingMixin, ValidationMixin, AdmissionMixin):
    """Thread-safe objects by resource type, namespace and name, with a global resourceVersion.

    The ``*_object`` methods take a :class:`ResourceType` and serve the HTTP layer; the short
    methods (``get``, ``list``, ``create``, ``apply``, ...) take ``apiVersion``/``kind`` and
    serve seeding, controllers and tests.
    """

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
        labels = selectors.label_selector(label_selector)
        fields = selectors.field_selector(field_selector)
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
