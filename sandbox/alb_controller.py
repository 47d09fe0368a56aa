"""A stand-in for the AWS Load Balancer Controller (v2.17) and EKS Auto Mode's ALB support.

It reconciles Ingresses of an ALB IngressClass into an ELBv2 ALB in the AWS sandbox, with the
real controller's names, tags, finalizer, status and Warning events, and only once a controller
is present: "preinstalled" (Helm) and "auto-mode" model one outside our reach; otherwise it acts
once a controller Deployment in kube-system is ready, with the AWS rights its service account's
IRSA role really gives (a missing, untrusted or policy-less role fails as it would on EKS).

Like a controller, it keeps nothing that matters in memory: each reconcile finds an Ingress's
resources by their tags, so a restarted stand-in adopts what it made before. Like v2.17, an
update of an Ingress is reconciled only when its annotations or spec changed or its deletion
began (a label or status change is not), and every Ingress again after ``resync_period``; a
reconcile puts back what was changed out of band (listeners, SSL policy, health check,
attributes, tags), so bumping an annotation makes it repair the ALB now.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from kubernetes import config, dynamic
from kubernetes.client.exceptions import ApiException

from sandbox.albcontroller import deploy, groups, protection
from sandbox.albcontroller.access import (
    UNRESTRICTED,
    AwsCallError,
    Identity,
    resolve_identity,
    resolve_pod_identity,
)
from sandbox.albcontroller.endoflife import told
from sandbox.albcontroller.gateway_gate import GatewayGate, controller_flags, feature_gates
from sandbox.albcontroller.gateways import GatewayController
from sandbox.albcontroller.kube import Cluster
from sandbox.albcontroller.model import FINALIZER, BuildError, build_model
from sandbox.albcontroller.schedule import Schedule, backoff

log = logging.getLogger(__name__)

__all__ = ["AUTO_MODE_CONTROLLER", "FINALIZER", "HELM_CONTROLLER", "AlbControllerStandIn"]

HELM_CONTROLLER = "ingress.k8s.aws/alb"
AUTO_MODE_CONTROLLER = "eks.amazonaws.com/alb"
CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_IMAGE = "aws-load-balancer-controller"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
REACHABILITY_GATE = "SubnetDiscoveryByReachability"


@dataclass(frozen=True)
class Controller:
    """The controller serving an Ingress, as its flags and identity make it."""

    identity: Identity
    cluster: str
    vpc_id: str | None
    by_reachability: bool = True


def _trigger(ingress: dict[str, Any]) -> str:
    """What an update must change for the controller to reconcile: annotations, spec, deletion."""
    meta = ingress["metadata"]
    watched = [meta.get("annotations") or {}, ingress.get("spec") or {}]
    return json.dumps([*watched, bool(meta.get("deletionTimestamp"))], sort_keys=True)


class AlbControllerStandIn:
    """Reconciles ALB Ingresses like the real controller, only once a controller is present.

    Args:
        kubeconfig: the sandbox cluster's kubeconfig.
        aws_env: ``AwsSandbox.env()``; the stand-in's own client has every right, and
            checks each call against the controller's identity first.
        cluster_name: the EKS cluster (for a Helm or Auto Mode controller's flags).
        mode: "none", "preinstalled" or "auto-mode" (see the module docstring).
        interval: seconds between passes over the Ingresses.
        max_backoff: longest wait before retrying a failed Ingress (doubling from ``interval``).
        resync_period: seconds after which a reconciled Ingress is reconciled again anyway
            (the controller's ``--sync-period``, 10 h by default: out-of-band ALB changes
            stay until then, unless the Ingress changes).
        gateway_status_requeue: seconds after which a Gateway whose ALB was still provisioning
            is looked at again (v3.5.0: 2 minutes; its `Programmed` turns True then).
        store_version: the API server's resourceVersion, read in-process (the sandbox's own
            API server). A pass only acts on what the API server shows and on what came due,
            so with this, a pass is skipped while the version has not moved and nothing is
            due: the same reconciles, without listing the cluster 20 times a second.
    """

    def __init__(
        self,
        *,
        kubeconfig: str,
        aws_env: dict[str, str],
        cluster_name: str,
        mode: str = "none",
        interval: float = 0.2,
        max_backoff: float = 2.0,
        resync_period: float = 36_000.0,
        gateway_status_requeue: float = 120.0,
        store_version: Callable[[], str] | None = None,
    ) -> None:
        self._store_version = store_version
        api_client = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        # A private discovery cache: the default one is a file per host:port in /tmp, which a
        # later API server on the same port (another sandbox) would read as its own.
        self._cache_dir = tempfile.TemporaryDirectory(prefix="kfalb-alb-controller-")
        cache = os.path.join(self._cache_dir.name, "discovery.json")
        self._cluster = Cluster(dynamic.DynamicClient(api_client, cache_file=cache))  # type: ignore[no-untyped-call]
        session = boto3.session.Session(
            aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
            region_name=aws_env["AWS_DEFAULT_REGION"],
        )
        url = aws_env["AWS_ENDPOINT_URL"]
        self._clients: dict[str, Any] = {
            name: session.client(name, endpoint_url=url)
            for name in ("elbv2", "ec2", "iam", "eks", "sts", "wafv2")
        }
        self.account_id = str(self._clients["sts"].get_caller_identity()["Account"])
        self.cluster_name = cluster_name
        self.mode = mode
        self.interval = interval
        self.max_backoff = max_backoff
        self.resync_period = resync_period
        self.session_name = str(time.time_ns())
        self._schedule: dict[str, Schedule] = {}
        self._gate = GatewayGate(self._cluster)
        self._gateways = GatewayController(
            self._cluster,
            self._clients,
            interval=interval,
            max_backoff=max_backoff,
            resync_period=resync_period,
            status_requeue=gateway_status_requeue,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AlbControllerStandIn:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alb-controller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
            self._thread = None
        self._cache_dir.cleanup()

    def _run(self) -> None:
        seen: str | None = None  # the API server's version the last complete pass read
        while not self._stop.wait(self.interval):
            version = self._store_version() if self._store_version else None
            if version is not None and version == seen and time.monotonic() < self._next_due():
                continue  # nothing changed and nothing came due: the pass would do nothing
            try:
                self.reconcile_once()
                seen = version
            except Exception:  # a stand-in must keep running, as a controller pod restarts
                log.exception("ALB controller stand-in: pass failed")

    def _next_due(self) -> float:
        """When the first scheduled Ingress or Gateway comes due (a retry, a resync)."""
        plans = [*self._schedule.values(), *self._gateways.schedules()]
        return min((plan.due for plan in plans), default=float("inf"))

    # -- scheduling -------------------------------------------------------------------------

    def reconcile_once(self, *, force: bool = False) -> None:
        """One pass over the Ingresses that are due (all of them when ``force``)."""
        classes = {
            item["metadata"]["name"]: item["spec"].get("controller")
            for item in self._cluster.items("networking.k8s.io/v1", "IngressClass")
        }
        now = time.monotonic()
        for ingress in self._cluster.items("networking.k8s.io/v1", "Ingress"):
            meta = ingress["metadata"]
            kind = self._kind(ingress, classes)
            # No longer of an ALB class but still ours: the controller removes what it made.
            inactive = kind is None and FINALIZER in (meta.get("finalizers") or [])
            uid = str(meta.get("uid"))
            plan = self._schedule.get(uid)
            if (kind is None and not inactive) or (
                not force and plan and plan.trigger == _trigger(ingress) and now < plan.due
            ):
                continue
            controller = self._controller(kind or ("auto" if self.mode == "auto-mode" else "lbc"))
            if controller is None:
                continue  # nobody serves this class: no finalizer, no event, no address
            self._attempt(ingress, controller, plan, inactive=inactive)
        deployment = self._deployment()
        if deployment is not None and self._gate.enabled(deployment, controller_flags(deployment)):
            # Who the controller is in AWS is resolved only when a Gateway is due.
            self._gateways.reconcile_once(lambda: self._controller("lbc"), force=force)

    def _attempt(
        self,
        ingress: dict[str, Any],
        controller: Controller,
        plan: Schedule | None,
        *,
        inactive: bool,
    ) -> None:
        uid, trigger = str(ingress["metadata"].get("uid")), _trigger(ingress)
        try:
            version = self._reconcile(ingress, controller, inactive=inactive)
        except _Failure as failure:  # as upstream: told to the group's active members only
            for member in told(ingress, self._members(groups.group_of(ingress)), inactive):
                self._cluster.record(member, "Warning", failure.reason, failure.message)
            failures = (plan.failures if plan else 0) + 1
            delay = backoff(self.interval, failures, self.max_backoff)
            self._schedule[uid] = Schedule(trigger, time.monotonic() + delay, failures)
            log.info("ALB controller stand-in: %s: %s", failure.reason, failure.message)
            return
        if version is None:
            self._schedule.pop(uid, None)  # deleted
            return
        self._schedule[uid] = Schedule(trigger, time.monotonic() + self.resync_period)

    def _kind(self, ingress: dict[str, Any], classes: dict[str, str]) -> str | None:
        class_name = (ingress.get("spec") or {}).get("ingressClassName")
        if class_name is not None:
            return {HELM_CONTROLLER: "lbc", AUTO_MODE_CONTROLLER: "auto"}.get(
                str(classes.get(class_name))
            )
        annotations = ingress["metadata"].get("annotations") or {}
        return "lbc" if annotations.get("kubernetes.io/ingress.class") == "alb" else None

    # -- presence ---------------------------------------------------------------------------

    def _controller(self, kind: str) -> Controller | None:
        if kind == "auto":
            if self.mode != "auto-mode":
                return None
            return Controller(UNRESTRICTED, self.cluster_name, None)
        deployment = self._deployment()
        if deployment is None:
            return None
        flags = controller_flags(deployment)
        cluster = flags.get("cluster-name") or self.cluster_name
        by_reachability = feature_gates(flags).get(REACHABILITY_GATE, True)
        vpc_id = flags.get("aws-vpc-id") or None
        if self.mode == "preinstalled":
            return Controller(UNRESTRICTED, cluster, vpc_id, by_reachability)
        return Controller(self._identity(deployment), cluster, vpc_id, by_reachability)

    def _deployment(self) -> dict[str, Any] | None:
        """The controller's ready Deployment in kube-system, if any."""
        return next(
            (
                item
                for item in self._cluster.items("apps/v1", "Deployment", CONTROLLER_NAMESPACE)
                if any(
                    CONTROLLER_IMAGE in str(c.get("image", ""))
                    for c in item["spec"]["template"]["spec"].get("containers") or []
                )
                and (item.get("status") or {}).get("readyReplicas")
            ),
            None,
        )

    def _identity(self, deployment: dict[str, Any]) -> Identity:
        account = deployment["spec"]["template"]["spec"].get("serviceAccountName") or "default"
        service_account = self._cluster.get("v1", "ServiceAccount", account, CONTROLLER_NAMESPACE)
        annotations = ((service_account or {}).get("metadata") or {}).get("annotations") or {}
        # The SDK's credential chain tries the web identity of IRSA (the annotation) before the
        # container credentials EKS Pod Identity injects: an annotated account stays on IRSA.
        if not annotations.get(ROLE_ANNOTATION):
            through_association = resolve_pod_identity(
                self._clients["iam"],
                self._clients["eks"],
                cluster=self.cluster_name,
                namespace=CONTROLLER_NAMESPACE,
                service_account=account,
                account_id=self.account_id,
                session_name=f"eks-{self.cluster_name}-{self.session_name}",
            )
            if through_association is not None:
                return through_association
        cluster = self._clients["eks"].describe_cluster(name=self.cluster_name)["cluster"]
        return resolve_identity(
            self._clients["iam"],
            role_arn=annotations.get(ROLE_ANNOTATION),
            issuer=cluster["identity"]["oidc"]["issuer"],
            account_id=self.account_id,
            subject=f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{account}",
            session_name=self.session_name,
        )

    # -- reconcile --------------------------------------------------------------------------

    def _reconcile(
        self, ingress: dict[str, Any], controller: Controller, *, inactive: bool = False
    ) -> str | None:
        """Converge one Ingress; its resourceVersion after our writes, None once it is gone."""
        aws = deploy.Aws(self._clients, controller.identity)
        meta = ingress["metadata"]
        group = groups.group_of(ingress)
        stack_id = group or f"{meta['namespace']}/{meta['name']}"
        with _failing("FailedBuildModel", "Failed build model due to"):
            protection.refuse_protected_deletion(self._leaving(ingress, group))
        if meta.get("deletionTimestamp") or inactive:
            if FINALIZER not in (meta.get("finalizers") or []):
                return None
            with _failing("FailedDeployModel", "Failed deploy model due to"):
                others = [
                    member
                    for member in self._members(group)
                    if member["metadata"].get("uid") != meta.get("uid")
                ]
                if others:  # the group's ALB stays for the others, without this one's part
                    self._deploy_group(aws, group or "", others, controller)
                else:
                    deploy.delete_stack(aws, cluster=controller.cluster, stack_id=stack_id)
            self._cluster.delete_bindings(ingress)
            with _failing("FailedRemoveFinalizer", "Failed remove finalizer due to"):
                self._cluster.remove_finalizer(ingress)
            log.info("ALB controller stand-in: removed the stack of %s", stack_id)
            return None
        with _failing("FailedAddFinalizer", "Failed add finalizer due to"):
            ingress = self._cluster.add_finalizer(ingress)
        vpc_id = controller.vpc_id or self._vpc_id()
        with _failing("FailedBuildModel", "Failed build model due to"):
            own = model = self._build(ingress, controller)
            if group is not None:
                members = self._members(group)
                model = groups.merge(
                    group,
                    [
                        own
                        if m["metadata"].get("uid") == meta.get("uid")
                        else self._build(m, controller)
                        for m in members
                    ],  # fmt: skip
                    cluster=controller.cluster,
                )
            subnets = deploy.discover_subnets(
                aws,
                vpc_id=vpc_id,
                scheme=model.scheme,
                cluster=controller.cluster,
                by_reachability=controller.by_reachability,
            )
        with _failing("FailedDeployModel", "Failed deploy model due to"):
            hostname, target_groups = deploy.deploy(
                aws, model, cluster=controller.cluster, vpc_id=vpc_id, subnets=subnets
            )
            backend = deploy.backend_security_group(
                aws, cluster=controller.cluster, vpc_id=vpc_id, create=False
            )
            self._cluster.sync_bindings(ingress, own, target_groups, backend)
        with _failing("FailedUpdateStatus", "Failed update status due to"):
            ports = sorted(listener.port for listener in model.listeners)
            ingress = self._cluster.set_hostname(ingress, hostname, ports)
        self._cluster.record(ingress, "Normal", "SuccessfullyReconciled", "Successfully reconciled")
        return str(ingress["metadata"]["resourceVersion"])

    def _build(self, ingress: dict[str, Any], controller: Controller) -> Any:
        services = self._cluster.items("v1", "Service", ingress["metadata"]["namespace"])
        return build_model(
            ingress,
            {service["metadata"]["name"]: service for service in services},
            cluster=controller.cluster,
        )

    def _leaving(self, ingress: dict[str, Any], group: str | None) -> list[dict[str, Any]]:
        """The Ingresses of the group (or this one alone) that are being deleted."""
        if group is None:
            return [ingress]
        every = self._cluster.items("networking.k8s.io/v1", "Ingress")
        return [item for item in every if groups.group_of(item) == group]

    def _members(self, group: str | None) -> list[dict[str, Any]]:
        if group is None:
            return []
        return groups.members(self._cluster.items("networking.k8s.io/v1", "Ingress"), group)

    def _deploy_group(
        self,
        aws: deploy.Aws,
        group: str,
        members: list[dict[str, Any]],
        controller: Controller,
    ) -> None:
        """Converge the group's ALB to what its remaining members declare (a member that does
        not build fails the model, as upstream, before anything is deployed)."""
        with _failing("FailedBuildModel", "Failed build model due to"):
            models = [self._build(m, controller) for m in members]
            model = groups.merge(group, models, cluster=controller.cluster)
        vpc_id = controller.vpc_id or self._vpc_id()
        subnets = deploy.discover_subnets(
            aws,
            vpc_id=vpc_id,
            scheme=model.scheme,
            cluster=controller.cluster,
            by_reachability=controller.by_reachability,
        )
        deploy.deploy(aws, model, cluster=controller.cluster, vpc_id=vpc_id, subnets=subnets)

    def _vpc_id(self) -> str:
        cluster = self._clients["eks"].describe_cluster(name=self.cluster_name)["cluster"]
        return str(cluster["resourcesVpcConfig"]["vpcId"])


class _Failure(Exception):
    """A reconcile step failed; reason and message of the Warning event."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@contextmanager
def _failing(reason: str, prefix: str) -> Iterator[None]:
    """Turn a step's error into the Warning event the real controller records for that step."""
    try:
        yield
    except (BuildError, AwsCallError, ApiException) as error:
        raise _Failure(reason, f"{prefix} {error}") from None
