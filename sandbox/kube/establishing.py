"""CRDs become Established after a delay, as with kube-apiserver's establishing controller.

Until then the CRD's kinds are not served: their paths answer the plain-text
``404 page not found`` of an unknown group and discovery leaves them out.
"""

from __future__ import annotations

import time

from sandbox.kube.jsoncopy import json_copy

from .crds import crd_resource_types
from .storebase import Object, StoreBase, now_rfc3339

_CRD_API = "apiextensions.k8s.io/v1"


def is_established(crd: Object) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


class EstablishingMixin(StoreBase):
    """Serves a CRD's kinds once it is Established; ``crd_established_delay`` 0 means at once."""

    crd_established_delay = 0.0

    def _sync_crd(self, crd: Object) -> None:
        """Serve (or stop serving) the versions a CRD declares, once it is Established."""
        spec = crd.get("spec", {})
        self.registry.unregister(spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        if crd["metadata"].get("deletionTimestamp"):
            return
        if not is_established(crd):
            if self.crd_established_delay > 0:
                return  # establish_crds() does it later
            crd = self._establish(crd)
        for rtype in crd_resource_types(crd):
            self.registry.register(rtype)

    def _establish(self, crd: Object) -> Object:
        """Mark the stored ``crd`` Established (in place: callers hold the stored object)."""
        crd_type = self.registry.by_kind(_CRD_API, "CustomResourceDefinition")
        assert crd_type is not None
        old = json_copy(crd)
        for condition in crd["status"]["conditions"]:
            if condition.get("type") == "Established":
                condition.update(
                    status="True",
                    reason="InitialNamesAccepted",
                    message="the initial names have been accepted",
                    lastTransitionTime=now_rfc3339(),
                )
        crd["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(crd_type, "MODIFIED", old, crd)
        return crd

    def establish_crds(self) -> bool:
        """Establish the CRDs whose delay is over; True while some are still waiting."""
        crd_type = self.registry.by_kind(_CRD_API, "CustomResourceDefinition")
        if crd_type is None:
            return False
        waiting = False
        with self._lock:
            for crd in list(self._bucket(crd_type).values()):
                if is_established(crd) or crd["metadata"].get("deletionTimestamp"):
                    continue
                first = self._installing.setdefault(crd["metadata"]["uid"], time.monotonic())
                if time.monotonic() - first < self.crd_established_delay:
                    waiting = True
                    continue
                self._installing.pop(crd["metadata"]["uid"], None)
                established = self._establish(crd)
                for rtype in crd_resource_types(established):
                    self.registry.register(rtype)
        return waiting

    @property
    def _installing(self) -> dict[str, float]:
        table: dict[str, float] | None = self.__dict__.get("_installing_since")
        if table is None:
            table = self.__dict__["_installing_since"] = {}
        return table
