"""Cleanup's Kubernetes side when the controller is gone: stale webhooks, a stuck Ingress."""

from __future__ import annotations

from core import naming
from core.errors import OwnershipError
from core.kubestate import IngressState
from core.manifests import WEBHOOK_SECRET, WEBHOOK_SERVICE, Manifest, key
from core.settings import get_settings
from core.waiting import wait_until
from tasks.k8s import manifests
from tasks.k8s.apply import delete_objects, is_owned, read, resource_for
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, riding_out_blips
from tasks.k8s.errors import is_not_found, translated
from tasks.k8s.ingress import read_ingress
from tasks.k8s.logs import run_logger
from tasks.retry import retrying_task

#: The finalizer the AWS Load Balancer Controller puts on Ingresses it made an ALB for.
ALB_FINALIZER = "ingress.k8s.aws/resources"
_WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def controller_manifests() -> list[Manifest]:
    """Every object an install of ours consists of (the webhook Secret included)."""
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": WEBHOOK_SECRET, "namespace": naming.CONTROLLER_NAMESPACE}}  # fmt: skip
    return [*manifests.render(manifests.CONTROLLER_BASE), secret]


@retrying_task
def find_controller_objects(target: KubeTarget, stack: str) -> tuple[str, ...]:
    """The controller objects present in the cluster that carry the stack's labels."""
    with connect(target) as kube:
        return tuple(key(obj) for obj in controller_manifests() if is_owned(read(kube, obj), stack))


def _webhook_answers(kube: Kube) -> bool:
    endpoints = get(kube, "v1", "Endpoints", WEBHOOK_SERVICE, naming.CONTROLLER_NAMESPACE) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


@retrying_task
def delete_stale_webhooks(target: KubeTarget, stack: str) -> tuple[str, ...]:
    """Delete the stack's admission webhook configurations when nothing serves them any more.

    With failurePolicy Fail, a webhook whose Service has no endpoints makes the API server refuse
    every Ingress write, including removing the finalizer of an Ingress the controller will never
    process again. Webhooks that are not the stack's are left (the Ingress write then fails,
    naming them).
    """
    with connect(target) as kube:
        if _webhook_answers(kube):
            return ()
        hooks = [obj for obj in controller_manifests() if obj.get("kind") in _WEBHOOK_KINDS]
        deleted, left = delete_objects(kube, hooks, stack=stack)
    if left:
        run_logger().warning("Webhook configurations %s are not this stack's; left", list(left))
    return deleted


@retrying_task
def release_ingress(
    target: KubeTarget,
    *,
    stack: str,
    namespace: str = naming.INGRESS_NAMESPACE,
    name: str = naming.INGRESS_NAME,
) -> bool:
    """Delete the stack's Ingress without its ALB controller: remove the controller's finalizer
    (its AWS resources must be deleted first) and wait until the Ingress is gone. False when it
    was gone already."""
    settings = get_settings()
    with connect(target) as kube:
        state = read_ingress(kube, namespace, name)
        if state is None:
            return False
        if not state.owned_by(stack):
            raise OwnershipError(
                f"Ingress {state.key} does not carry stack {stack!r}'s labels; not deleting it."
            )
        resource = resource_for(kube, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"})
        if resource is None:
            return False
        with translated(f"Deleting Ingress {state.key} without its controller"):
            try:
                if not state.deleting:
                    resource.delete(name=name, namespace=namespace)
                if ALB_FINALIZER in state.finalizers:
                    kept = [item for item in state.finalizers if item != ALB_FINALIZER]
                    resource.patch(
                        body=[{"op": "replace", "path": "/metadata/finalizers", "value": kept}],
                        name=name,
                        namespace=namespace,
                        content_type="application/json-patch+json",
                    )
            except Exception as error:
                if not is_not_found(error):
                    raise
        last: IngressState | None = state
        wait_until(
            riding_out_blips(lambda: read_ingress(kube, namespace, name), last),
            lambda seen: seen is None,
            what=f"Ingress {state.key} to be deleted",
            timeout=settings.cleanup_timeout_seconds,
            interval=settings.poll_interval_seconds,
            max_interval=settings.poll_max_interval_seconds,
            describe=lambda seen: f"finalizers {list(seen.finalizers) if seen else []}",
        )
    run_logger().info("Ingress %s deleted; its ALB controller finalizer removed", state.key)
    return True
