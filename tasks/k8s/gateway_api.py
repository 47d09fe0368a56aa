"""The Gateway API CRDs a Gateway front door needs: observe, install when missing, remove."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from prefect import task

from core import naming, sharing
from core.controller_versions import DEFAULT_CONTROLLER_VERSION, release
from core.errors import PreflightError
from core.gateway_crds import CrdPlan, plan_gateway_crds
from core.kubestate import ApplyReport
from core.manifests import Manifest, key, with_ownership
from core.settings import get_settings
from core.waits import WAITS
from tasks import bundled
from tasks.bundled import bundled_path
from tasks.k8s.apply import apply_objects, delete_objects, merge_patch, read, resource_for
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, list_objects, riding_out_blips
from tasks.k8s.errors import is_not_found, translated
from tasks.logs import run_logger
from tasks.retry import retrying_task
from tasks.waits import wait_for

DEPLOYMENT = ("apps/v1", "Deployment")
#: On the controller's pod template: the Gateway API bundle it was restarted for. The controller
#: looks for the Gateway API CRDs only when it starts (its ALB Gateway controller stays off
#: otherwise), so installing them rolls the controller kubeflow-alb installed.
RESTART_ANNOTATION = "kubeflow-alb/gateway-api"


def gateway_api_bundle(controller_version: str = DEFAULT_CONTROLLER_VERSION) -> str:
    """The Gateway API release the bundled controller is built for (PreflightError if none)."""
    found = release(controller_version).gateway_api
    if found is None:
        raise PreflightError(
            f"The AWS Load Balancer Controller {controller_version} cannot build a Gateway front "
            "door; see stack.frontDoor."
        )
    return found


@cache
def bundled_objects(bundle: str) -> tuple[Manifest, ...]:
    """The objects of the bundled standard install (parsed once: it is 1.2 MB of CRDs)."""
    path = bundled_path(bundled.DEPLOYMENTS, "gateway-api", bundle, "standard-install.yaml")
    with path.open(encoding="utf-8") as handle:
        return tuple(doc for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader) if doc)


def _plan(kube: Kube, controller_version: str) -> tuple[CrdPlan, tuple[Manifest, ...]]:
    bundle = gateway_api_bundle(controller_version)
    objects = bundled_objects(bundle)
    live = {key(obj): read(kube, obj) for obj in objects}
    plan = plan_gateway_crds(objects, live, controller=controller_version, bundle=bundle)
    return plan, objects


@retrying_task
def observe_gateway_api(
    target: KubeTarget, controller_version: str = DEFAULT_CONTROLLER_VERSION
) -> CrdPlan:
    """Which bundled Gateway API objects the cluster lacks (or kubeflow-alb installed), which
    another tool's it keeps, and why they cannot serve the controller, if they cannot."""
    with connect(target) as kube:
        return _plan(kube, controller_version)[0]


@retrying_task
def ensure_gateway_api(
    target: KubeTarget, *, stack: str, controller_version: str = DEFAULT_CONTROLLER_VERSION
) -> ApplyReport:
    """Install the Gateway API standard CRDs the controller is built for where the cluster has
    none (server-side apply, the stack's labels); refuse, with the reason, CRDs of another tool
    that are too old. A running controller kubeflow-alb installed is rolled so it detects new
    CRDs (it looks only when it starts); best before the controller is installed."""
    with connect(target) as kube:
        plan, _ = _plan(kube, controller_version)
        if plan.problem:
            raise PreflightError(plan.problem)
        objects = [with_ownership(obj, stack) for obj in plan.apply]
        report = apply_objects(kube, objects, stack=stack, shared=True)
        # Also when a run that created them stopped before the roll: the controller's pod
        # template says which bundle it was last rolled for.
        _roll_controller(kube, gateway_api_bundle(controller_version))
    if plan.kept:
        run_logger().info("Gateway API CRDs kept as another tool installed them: %s", plan.kept)
    return report


def _roll_controller(kube: Kube, bundle: str) -> None:
    """Restart a running controller that kubeflow-alb installed; tell about another one."""
    deployment = get(kube, *DEPLOYMENT, naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE)
    if deployment is None:
        return  # installed later, it sees the CRDs when it starts
    where = f"{naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_NAME}"
    template = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    if (template.get("annotations") or {}).get(RESTART_ANNOTATION) == bundle:
        return  # rolled for these CRDs already
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    if not sharing.made_by_tool(labels):
        run_logger().warning(
            "Gateway API CRDs installed: restart the ALB controller so it serves Gateways "
            "(kubectl -n %s rollout restart deployment/%s)",
            naming.CONTROLLER_NAMESPACE,
            naming.CONTROLLER_NAME,
        )
        return
    resource = resource_for(kube, {"apiVersion": DEPLOYMENT[0], "kind": DEPLOYMENT[1]})
    assert resource is not None  # apps/v1 Deployment is always served
    body: dict[str, Any] = {
        "spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: bundle}}}}
    }
    merge_patch(
        resource,
        body,
        name=naming.CONTROLLER_NAME,
        namespace=naming.CONTROLLER_NAMESPACE,
        manager="gateway-api",
    )
    run_logger().info("Restarting the ALB controller %s to detect the Gateway API CRDs", where)


@task
def delete_gateway_api(
    target: KubeTarget, *, stack: str, controller_version: str = DEFAULT_CONTROLLER_VERSION
) -> tuple[str, ...]:
    """Remove the Gateway API CRDs a kubeflow-alb stack installed, once no Gateway API object
    is left in the cluster (deleting a CRD deletes every object of its kind). Returns what was
    deleted; nothing while objects remain (they are named in the log)."""
    with connect(target) as kube:
        objects = bundled_objects(gateway_api_bundle(controller_version))
        left = [
            f"{crd['spec']['names']['kind']} {len(found)}"
            for crd in objects
            if crd.get("kind") == "CustomResourceDefinition" and (found := _instances(kube, crd))
        ]
        if left:
            run_logger().info("Gateway API CRDs stay: objects remain (%s)", ", ".join(left))
            return ()
        deleted, _ = delete_objects(kube, list(objects), stack=stack, shared=True)
        return deleted


def _instances(kube: Kube, crd: Manifest) -> list[Manifest]:
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    api = f"{spec['group']}/{version}"
    if resource_for(kube, {"apiVersion": api, "kind": spec["names"]["kind"]}) is None:
        return []
    return list_objects(kube, api, spec["names"]["kind"])


CLASS = ("gateway.networking.k8s.io/v1", "GatewayClass")


@retrying_task
def delete_gateway_class(target: KubeTarget, *, name: str, release: bool = False) -> bool:
    """Delete kubeflow-alb's GatewayClass once no Gateway of the cluster uses it, and wait until
    its controller let it go (it keeps its finalizer while Gateways use the class); `release`:
    the controller is gone, its finalizer is removed here. False when it is not there, not
    kubeflow-alb's, or still used."""
    with connect(target) as kube:
        klass = get(kube, *CLASS, name)
        if klass is None or not sharing.made_by_tool((klass.get("metadata") or {}).get("labels")
                                                     or {}):  # fmt: skip
            return False
        users = [
            f"{(g.get('metadata') or {}).get('namespace')}/{(g.get('metadata') or {}).get('name')}"
            for g in list_objects(kube, CLASS[0], "Gateway")
            if (g.get("spec") or {}).get("gatewayClassName") == name
        ]
        if users:
            run_logger().info("GatewayClass %s stays: Gateways use it (%s)", name, ", ".join(users))
            return False
        resource = resource_for(kube, {"apiVersion": CLASS[0], "kind": CLASS[1]})
        assert resource is not None  # it was just read
        with translated(f"Deleting GatewayClass {name}"):
            try:
                resource.delete(name=name)
                finalizers = list((klass.get("metadata") or {}).get("finalizers") or [])
                kept = [item for item in finalizers if not item.startswith("gateway.k8s.aws/")]
                if release and kept != finalizers:
                    resource.patch(
                        body={"metadata": {"finalizers": kept or None}},
                        name=name,
                        content_type="application/merge-patch+json",
                    )
            except Exception as error:
                if not is_not_found(error):
                    raise
        left: Manifest | None = klass
        wait_for(
            WAITS.gateway_class_deleted.of(name),
            riding_out_blips(lambda: get(kube, *CLASS, name), left),
            until=lambda found: found is None,
            settings=get_settings(),
        )
    return True
