"""The ALB Gateway controller of the stand-in: Gateways of class `gateway.k8s.aws/alb` into ALBs.

As v3.5.0's (controllers/gateway at its tag): the GatewayClass controller puts its finalizer on
its classes, checks their LoadBalancerConfiguration and sets `Accepted`; every
LoadBalancerConfiguration and TargetGroupConfiguration gets a finalizer, removed once nothing
uses it; a Gateway of an accepted class gets its configuration resolved, its routes loaded
(route status per parent), its ALB deployed by the same code as an Ingress's (tagged
`gateway.k8s.aws.alb/...`), the finalizer `gateway.k8s.aws/alb`, TargetGroupBindings, its
status and an Event. Its deletion removes the ALB, then the finalizer; deletion protection
among its attributes refuses it. Errors become the real Warning Events and conditions.
Nothing is remembered but when to look again: each pass finds a Gateway's ALB by its tags.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from sandbox.albcontroller import deploy
from sandbox.albcontroller.access import AwsCallError
from sandbox.albcontroller.gateway_configs import (
    ConfigError,
    Resolved,
    resolve,
    sync_configurations,
)
from sandbox.albcontroller.gateway_model import (
    GATEWAY_STACK_TAG,
    build_gateway_model,
)
from sandbox.albcontroller.gateway_status import (
    CONTROLLER,
    RECONCILE_ERROR_MESSAGE,
    failure_status,
    route_parents,
    success_status,
)
from sandbox.albcontroller.kube import Cluster
from sandbox.albcontroller.model import BuildError
from sandbox.albcontroller.schedule import Schedule, backoff

log = logging.getLogger(__name__)

GATEWAY = ("gateway.networking.k8s.io/v1", "Gateway")
CLASS = ("gateway.networking.k8s.io/v1", "GatewayClass")
ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
FINALIZER = "gateway.k8s.aws/alb"
LABEL_PREFIX = "gateway.k8s.aws.alb"


@dataclass
class _Snapshot:
    """What one pass read once: every route, Service and TargetGroupConfiguration, and the
    generations that make a Gateway due again."""

    routes: list[dict[str, Any]]
    services: dict[tuple[str, str], dict[str, Any]]
    configurations: list[dict[str, Any]]
    generations: list[Any]


class _Failure(Exception):
    def __init__(self, reason: str, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


def _step(reason: str, prefix: str, error: Exception) -> _Failure:
    return _Failure(reason, f"{prefix} {error}", RECONCILE_ERROR_MESSAGE)


class GatewayController:
    """One pass over the cluster's Gateway objects at a time (see the module docstring)."""

    def __init__(
        self,
        cluster: Cluster,
        clients: dict[str, Any],
        *,
        interval: float,
        max_backoff: float,
        resync_period: float,
        status_requeue: float,
    ) -> None:
        self._cluster = cluster
        self._clients = clients
        self.interval = interval
        self.max_backoff = max_backoff
        self.resync_period = resync_period
        self.status_requeue = status_requeue
        self._schedule: dict[str, Schedule] = {}

    def reconcile_once(self, controller_for: Callable[[], Any], *, force: bool = False) -> None:
        """Classes and configurations, then every Gateway of ours that is due (`controller_for`
        tells who the controller is, asked once, when a Gateway is due)."""
        try:
            gateways = self._cluster.items(*GATEWAY)
        except (ResourceNotFoundError, NotFoundError):
            return  # the CRDs went away under a running controller
        ours = {
            n: c
            for n, c in self._classes().items()
            if c["spec"].get("controllerName") == CONTROLLER
        }
        sync_configurations(self._cluster, ours, gateways)
        # The class controller's writes wake the Gateway controller up: read them back.
        ours = {n: c for n, c in self._classes().items() if n in ours}
        now = time.monotonic()
        snapshot = self._snapshot()
        controller: list[Any] = []
        for gateway in gateways:
            klass = ours.get(str(gateway["spec"].get("gatewayClassName")))
            if klass is None:
                continue
            uid = str(gateway["metadata"].get("uid"))
            trigger = self._trigger(gateway, klass, snapshot)
            plan = self._schedule.get(uid)
            if not force and plan and plan.trigger == trigger and now < plan.due:
                continue
            if not controller:
                controller.append(controller_for())
            if controller[0] is None:
                return
            self._attempt(gateway, klass, controller[0], (trigger, plan, snapshot))

    def schedules(self) -> list[Schedule]:
        """When each Gateway is looked at again (unless it changes first)."""
        return list(self._schedule.values())

    def _classes(self) -> dict[str, dict[str, Any]]:
        return {c["metadata"]["name"]: c for c in self._cluster.items(*CLASS)}

    def _snapshot(self) -> _Snapshot:
        routes = self._cluster.items(*ROUTE)
        configurations = self._cluster.items("gateway.k8s.aws/v1", "TargetGroupConfiguration")
        services = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): s
            for s in self._cluster.items("v1", "Service")
        }
        generations: list[Any] = [
            (r["metadata"]["namespace"], r["metadata"]["name"], r["metadata"].get("generation"))
            for r in routes
        ]
        for item in [
            *configurations,
            *self._cluster.items("gateway.k8s.aws/v1", "LoadBalancerConfiguration"),
        ]:
            meta = item["metadata"]
            generations.append(
                (item["kind"], meta.get("namespace"), meta["name"], meta.get("generation"))
            )
        generations += sorted((k[0], k[1], v["metadata"].get("uid")) for k, v in services.items())
        return _Snapshot(routes, services, configurations, generations)

    def _trigger(self, gateway: dict[str, Any], klass: dict[str, Any], snapshot: _Snapshot) -> str:
        """What makes the controller look again: the Gateway's spec, annotations and deletion,
        its class, and the spec of every object it is built from (generations, not status)."""
        meta = gateway["metadata"]
        return json.dumps(
            [meta.get("generation"), meta.get("annotations"), meta.get("labels"),
             bool(meta.get("deletionTimestamp")),
             klass["metadata"].get("generation"), (klass.get("status") or {}).get("conditions"),
             snapshot.generations],
            sort_keys=True, default=str,
        )  # fmt: skip

    def _attempt(
        self,
        gateway: dict[str, Any],
        klass: dict[str, Any],
        controller: Any,
        seen: tuple[str, Schedule | None, _Snapshot],
    ) -> None:
        trigger, plan, snapshot = seen
        uid = str(gateway["metadata"].get("uid"))
        try:
            requeue = self._reconcile(gateway, klass, controller, snapshot)
        except _Failure as failure:
            if failure.reason:
                self._cluster.record(
                    gateway, "Warning", failure.reason, failure.message, component=CONTROLLER
                )
            failures = (plan.failures if plan else 0) + 1
            delay = backoff(self.interval, failures, self.max_backoff)
            self._schedule[uid] = Schedule(trigger, time.monotonic() + delay, failures)
            log.info("ALB Gateway controller stand-in: %s", failure.message)
            return
        if requeue is None:
            self._schedule.pop(uid, None)  # deleted
            return
        self._schedule[uid] = Schedule(trigger, time.monotonic() + requeue)

    def _reconcile(
        self, gateway: dict[str, Any], klass: dict[str, Any], controller: Any, snapshot: _Snapshot
    ) -> float | None:
        """Converge one Gateway; seconds until it is looked at again, None once it is gone."""
        try:
            resolved = resolve(self._cluster, gateway, klass)
        except ConfigError as error:
            self._fail_status(gateway, str(error), loaded=False)
            raise _Failure("", str(error)) from None
        aws = deploy.Aws(self._clients, controller.identity)
        deleting = bool(gateway["metadata"].get("deletionTimestamp"))
        try:
            build = self._build(gateway, resolved, controller.cluster, snapshot)
        except BuildError as error:
            self._fail_status(gateway, RECONCILE_ERROR_MESSAGE, loaded=False)
            raise _step("FailedBuildModel", "Failed build model due to", error) from None
        self._route_status(build.routes)
        if deleting:
            self._delete(gateway, aws, controller)
            return None
        try:
            gateway = self._cluster.add_finalizer(gateway, FINALIZER)
        except ApiException as error:
            raise _Failure(
                "FailedAddFinalizer", f"Failed add gateway finalizer due to {error}"
            ) from None
        try:
            vpc_id = controller.vpc_id or self._vpc_id(controller)
            subnets = list(build.model.subnets) or deploy.discover_subnets(
                aws, vpc_id=vpc_id, scheme=build.model.scheme, cluster=controller.cluster,
                by_reachability=controller.by_reachability,
            )  # fmt: skip
        except (BuildError, AwsCallError) as error:
            self._fail_status(gateway, RECONCILE_ERROR_MESSAGE, loaded=False)
            raise _step("FailedBuildModel", "Failed build model due to", error) from None
        try:
            dns_name, target_groups = deploy.deploy(
                aws, build.model, cluster=controller.cluster, vpc_id=vpc_id, subnets=subnets
            )
            backend = deploy.backend_security_group(
                aws, cluster=controller.cluster, vpc_id=vpc_id, create=False
            )
            self._cluster.sync_bindings(gateway, build.model, target_groups, backend,
                                        label_prefix=LABEL_PREFIX)  # fmt: skip
        except (AwsCallError, ApiException) as error:
            self._fail_status(gateway, RECONCILE_ERROR_MESSAGE, loaded=False)
            raise _step("FailedDeployModel", "Failed deploy model due to", error) from None
        active, arn = self._state(aws, controller.cluster, build.model.stack_id)
        status = success_status(
            gateway, dns_name=dns_name, arn=arn, active=active,
            attached=build.attached, invalid=build.invalid_listeners,
        )  # fmt: skip
        if status is not None:
            try:
                gateway = self._cluster.patch_status(gateway, status)
            except ApiException as error:
                raise _Failure(
                    "FailedUpdateStatus", f"Failed update status due to {error}"
                ) from None
        if not active:
            # The real one asks to be requeued with an error value, which its caller records
            # as a Warning: expected while AWS provisions the ALB.
            message = (
                "Failed update status due to requeue needed after "
                f"{go_duration(self.status_requeue)}: Monitoring provisioning state"
            )
            self._cluster.record(gateway, "Warning", "FailedUpdateStatus", message,
                                 component=CONTROLLER)  # fmt: skip
            return self.status_requeue
        self._cluster.record(gateway, "Normal", "SuccessfullyReconciled", "Successfully reconciled",
                             component=CONTROLLER)  # fmt: skip
        return self.resync_period

    def _build(
        self, gateway: dict[str, Any], resolved: Resolved, cluster: str, snapshot: _Snapshot
    ) -> Any:
        if resolved.protected and gateway["metadata"].get("deletionTimestamp"):
            meta = gateway["metadata"]
            raise BuildError(
                f"Unable to delete gateway {meta['namespace']}/{meta['name']} because deletion "
                "protection is enabled."
            )
        return build_gateway_model(
            gateway, resolved.config, snapshot.routes, snapshot.services, snapshot.configurations,
            default_props=resolved.default_props, cluster=cluster,
        )  # fmt: skip

    def _delete(self, gateway: dict[str, Any], aws: deploy.Aws, controller: Any) -> None:
        if FINALIZER not in (gateway["metadata"].get("finalizers") or []):
            return
        meta = gateway["metadata"]
        try:
            deploy.delete_stack(aws, cluster=controller.cluster,
                                stack_id=f"{meta['namespace']}/{meta['name']}",
                                stack_tag=GATEWAY_STACK_TAG)  # fmt: skip
            self._cluster.delete_bindings(gateway, label_prefix=LABEL_PREFIX)
        except (AwsCallError, ApiException) as error:
            raise _step("FailedDeployModel", "Failed deploy model due to", error) from None
        try:
            self._cluster.remove_finalizer(gateway, FINALIZER)
        except ApiException as error:
            raise _Failure(
                "FailedRemoveFinalizer", f"Failed remove gateway finalizer due to {error}"
            ) from None
        log.info("ALB Gateway controller stand-in: removed the ALB of %s/%s",
                 meta["namespace"], meta["name"])  # fmt: skip

    def _fail_status(self, gateway: dict[str, Any], message: str, *, loaded: bool) -> None:
        status = failure_status(gateway, message, loaded=loaded)
        if status is None:
            return
        try:
            self._cluster.patch_status(gateway, status)
        except ApiException:
            log.info("ALB Gateway controller stand-in: could not write the failure status")

    def _route_status(self, results: list[Any]) -> None:
        by_route: dict[tuple[str, str], list[Any]] = {}
        for result in results:
            by_route.setdefault((result.namespace, result.name), []).append(result)
        for (namespace, name), found in by_route.items():
            route = self._cluster.get(*ROUTE, name, namespace)
            if route is None:
                continue
            parents = route_parents(route, found)
            if parents is not None:
                try:
                    self._cluster.patch_status(route, {"parents": parents})
                except ApiException:
                    log.info(
                        "ALB Gateway controller stand-in: route status of %s/%s", namespace, name
                    )

    def _state(self, aws: deploy.Aws, cluster: str, stack_id: str) -> tuple[bool, str]:
        found = deploy.find_stack(aws, cluster=cluster, stack_id=stack_id,
                                  stack_tag=GATEWAY_STACK_TAG)  # fmt: skip
        for balancer in found.load_balancers:
            code = (balancer.get("State") or {}).get("Code")
            return code in ("active", "active_impaired"), str(balancer["LoadBalancerArn"])
        return False, ""

    def _vpc_id(self, controller: Any) -> str:
        cluster = self._clients["eks"].describe_cluster(name=controller.cluster)["cluster"]
        return str(cluster["resourcesVpcConfig"]["vpcId"])


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it (2m0s, 1.5s, 200ms)."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{rest:g}s"
    if minutes or hours:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text
