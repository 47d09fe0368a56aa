"""A tiny controller-manager: Deployments become ready; Services get Endpoints and EndpointSlices."""

from __future__ import annotations

import logging
import threading
import time

from sandbox.kube.jsoncopy import json_copy

from .endpoints import endpoint_slice, endpoints_object, template_labels
from .errors import ApiError
from .resources import ResourceType
from .selectors import selector_matches
from .store import Object, ObjectStore, now_rfc3339
from .workloads import missing_references

log = logging.getLogger(__name__)

DEPLOYMENT_MANAGER = "deployment-controller"
ENDPOINTS_MANAGER = "endpoint-controller"
SLICE_MANAGER = "endpointslice-controller"
SERVICE_ACCOUNT_MANAGER = "service-account-controller"


def _condition(old: list[Object], kind: str, status: str, reason: str, message: str) -> Object:
    """A condition that keeps its timestamps while nothing about it changes."""
    previous = next((c for c in old if c.get("type") == kind), None)
    now = now_rfc3339()
    if previous and (previous.get("status"), previous.get("reason")) == (status, reason):
        return json_copy(previous)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def deployment_status(deployment: Object, *, ready: bool) -> Object:
    """The status the real controller reports during a rollout (``ready=False``) and after it."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    old = deployment.get("status") or {}
    old_conditions = old.get("conditions") or []
    replicas = int(spec.get("replicas", 1))
    status: Object = {"observedGeneration": meta.get("generation", 1)}
    if ready:
        counts = {
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        conditions = [
            _condition(
                old_conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            ),
            _condition(
                old_conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{meta["name"]}" has successfully progressed.',
            ),
        ]
    else:
        # Pods of the previous rollout keep serving while the new ones start.
        serving = min(int(old.get("readyReplicas", 0)), replicas)
        counts = {
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": serving,
            "availableReplicas": serving,
            "unavailableReplicas": replicas - serving,
        }
        available = serving > 0 or replicas == 0
        conditions = [
            _condition(
                old_conditions,
                "Available",
                "True" if available else "False",
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            ),
            _condition(
                old_conditions,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{meta["name"]}" is progressing.',
            ),
        ]
    # Zero counts are omitted, as the real API serialises them.
    status.update({k: v for k, v in counts.items() if v})
    status["conditions"] = conditions
    return status


class ControllerManager:
    """Runs the built-in controllers in one thread; ``enabled`` pauses and resumes them."""

    def __init__(self, store: ObjectStore, *, deployment_ready_delay: float = 0.5) -> None:
        self.store = store
        self.deployment_ready_delay = deployment_ready_delay
        self.enabled = True
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # (namespace, name, uid) -> (generation being rolled out, monotonic time it is ready)
        self._rollouts: dict[tuple[str, str, str], tuple[int, float]] = {}
        store.subscribe(lambda *_: self._wake.set())

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(
            target=self._run, name="sandbox-kube-controllers", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            next_due: float | None = None
            if self.enabled:
                try:
                    next_due = self.reconcile()
                except Exception:  # keep the controllers alive, as a real manager would
                    log.exception("sandbox controller pass failed")
            wait = 1.0 if next_due is None else max(0.0, min(1.0, next_due - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()

    def _type(self, api_version: str, kind: str) -> ResourceType:
        rtype = self.store.registry.by_kind(api_version, kind)
        assert rtype is not None, f"{api_version} {kind} is built in"
        return rtype

    def reconcile(self) -> float | None:
        """One pass of every controller; returns when the next pending rollout finishes."""
        self._service_accounts()
        next_due = self._deployments()
        self._endpoints()
        return next_due

    # --- deployments -----------------------------------------------------------------------

    def _deployments(self) -> float | None:
        rtype = self._type("apps/v1", "Deployment")
        deployments, _ = self.store.list_objects(rtype, None)
        now, next_due = time.monotonic(), None
        alive = set()
        for deployment in deployments:
            meta = deployment["metadata"]
            key = (meta["namespace"], meta["name"], meta["uid"])
            alive.add(key)
            if meta.get("deletionTimestamp"):
                continue
            generation = int(meta.get("generation", 1))
            status = deployment.get("status") or {}
            if deployment_status(deployment, ready=True) == status:
                continue
            rollout = self._rollouts.get(key)
            if rollout is None or rollout[0] != generation:
                rollout = (generation, now + self.deployment_ready_delay)
                self._rollouts[key] = rollout
            ready = now >= rollout[1]
            if not ready:
                next_due = rollout[1] if next_due is None else min(next_due, rollout[1])
            elif missing := missing_references(deployment, self._exists):
                # Like pods stuck in ContainerCreating; a later write of what is missing wakes us.
                log.debug("deployment %s/%s waits for %s", key[0], key[1], ", ".join(missing))
                ready = False
            self._write_status(rtype, deployment, ready=ready)
        for key in set(self._rollouts) - alive:
            del self._rollouts[key]
        return next_due

    def _exists(self, kind: str, namespace: str, name: str) -> bool:
        return self.store.find("v1", kind, name, namespace) is not None

    def _service_accounts(self) -> None:
        """Every active namespace gets its "default" ServiceAccount, as on a real cluster."""
        sa_type = self._type("v1", "ServiceAccount")
        namespaces, _ = self.store.list_objects(self._type("v1", "Namespace"), None)
        for namespace in namespaces:
            name = namespace["metadata"]["name"]
            if namespace["metadata"].get("deletionTimestamp") or self._exists(
                "ServiceAccount", name, "default"
            ):
                continue
            try:
                self.store.create_object(
                    sa_type,
                    name,
                    {"metadata": {"name": "default"}},
                    manager=SERVICE_ACCOUNT_MANAGER,
                )
            except ApiError as exc:
                log.debug("could not create the default service account in %s: %s", name, exc)

    def _write_status(self, rtype: ResourceType, deployment: Object, *, ready: bool) -> None:
        meta = deployment["metadata"]

        def change(live: Object) -> Object:
            live["status"] = deployment_status(live, ready=ready)
            return live

        try:
            self.store.mutate_object(
                rtype,
                meta["namespace"],
                meta["name"],
                change,
                manager=DEPLOYMENT_MANAGER,
                subresource="status",
            )
        except ApiError as exc:
            if exc.code != 404:
                raise

    # --- endpoints -------------------------------------------------------------------------

    def _endpoints(self) -> None:
        services, _ = self.store.list_objects(self._type("v1", "Service"), None)
        deployments, _ = self.store.list_objects(self._type("apps/v1", "Deployment"), None)
        wanted_endpoints: set[tuple[str, str]] = set()
        wanted_slices: set[tuple[str, str]] = set()
        for service in services:
            meta = service["metadata"]
            selector = (service.get("spec") or {}).get("selector") or {}
            if not selector or meta.get("deletionTimestamp"):
                continue
            backends = [
                d
                for d in deployments
                if d["metadata"]["namespace"] == meta["namespace"]
                and selector_matches(selector, template_labels(d))
            ]
            endpoints = endpoints_object(service, backends)
            slice_ = endpoint_slice(service, backends)
            wanted_endpoints.add((meta["namespace"], meta["name"]))
            wanted_slices.add((meta["namespace"], slice_["metadata"]["name"]))
            self._apply(self._type("v1", "Endpoints"), endpoints, ENDPOINTS_MANAGER)
            self._apply(self._type("discovery.k8s.io/v1", "EndpointSlice"), slice_, SLICE_MANAGER)
        self._prune(self._type("v1", "Endpoints"), ENDPOINTS_MANAGER, wanted_endpoints)
        self._prune(
            self._type("discovery.k8s.io/v1", "EndpointSlice"), SLICE_MANAGER, wanted_slices
        )

    def _apply(self, rtype: ResourceType, obj: Object, manager: str) -> None:
        meta = obj["metadata"]
        try:
            self.store.apply_object(
                rtype, meta["namespace"], meta["name"], obj, manager=manager, force=True
            )
        except ApiError as exc:
            # The namespace may be terminating under us; the next pass settles it.
            log.debug(
                "controller could not apply %s %s/%s: %s",
                rtype.kind,
                meta["namespace"],
                meta["name"],
                exc,
            )

    def _prune(self, rtype: ResourceType, manager: str, wanted: set[tuple[str, str]]) -> None:
        """Delete the objects this controller made for Services that are gone."""
        items, _ = self.store.list_objects(rtype, None)
        for item in items:
            meta = item["metadata"]
            ours = any(e.get("manager") == manager for e in meta.get("managedFields") or [])
            if ours and (meta["namespace"], meta["name"]) not in wanted:
                try:
                    self.store.delete_object(rtype, meta["namespace"], meta["name"])
                except ApiError as exc:
                    if exc.code != 404:
                        raise
