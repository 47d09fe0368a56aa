"""Cleanup's Kubernetes side when the controller is gone: stale webhooks, a stuck Ingress."""

from __future__ import annotations

from core import naming, sharing
from core.errors import OwnershipError
from core.kubestate import DEFAULT_INGRESS, IngressRef
from core.manifests import WEBHOOK_SECRET, WEBHOOK_SERVICE, Manifest, key
from core.settings import get_settings
from core.waits import WAITS
from tasks.k8s import manifests
from tasks.k8s.apply import delete_objects, is_owned, read, resource_for
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, list_objects, riding_out_blips
from tasks.k8s.errors import is_not_found, translated
from tasks.k8s.ingress import read_ingress
from tasks.logs import run_logger
from tasks.retry import retrying_task
from tasks.waits import wait_for

#: The finalizer the AWS Load Balancer Controller puts on Ingresses it made an ALB for.
ALB_FINALIZER = "ingress.k8s.aws/resources"
#: ...and on the TargetGroupBindings it makes for their backends, labelled with the Ingress.
BINDING = ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding")
BINDING_FINALIZER = "elbv2.k8s.aws/resources"
_WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def controller_manifests() -> list[Manifest]:
    """Every object an install of ours consists of (the webhook Secret included)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": WEBHOOK_SECRET, "namespace": naming.CONTROLLER_NAMESPACE},
    }
    return [*manifests.every_controller_object(), secret]


@retrying_task
def find_controller_objects(
    target: KubeTarget, stack: str, *, recorded: bool = False
) -> tuple[str, ...]:
    """The controller objects present in the cluster, made by a kubeflow-alb stack, when this
    stack uses that controller (its mark on the Deployment) — or, `recorded` in its block, when
    no stack's mark is left (its release took the mark off and was killed before the delete)."""
    with connect(target) as kube:
        deployment = get(
            kube, "apps/v1", "Deployment", naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE
        )
        marks = _marks(deployment) if deployment is not None else {}
        unused = recorded and not sharing.item_users(marks)
        if deployment is not None and not sharing.uses(marks, stack) and not unused:
            return ()  # the stack does not use the cluster's controller (any more)
        live = [
            obj for obj in controller_manifests() if is_owned(read(kube, obj), stack, shared=True)
        ]
        return tuple(key(obj) for obj in live)


def _marks(obj: Manifest) -> dict[str, str]:
    """The labels and annotations of an object: where its users are marked."""
    meta = obj.get("metadata") or {}
    return {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}


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
        deleted, left = delete_objects(kube, hooks, stack=stack, shared=True)
    if left:
        run_logger().warning(
            "Webhook configurations %s are not this stack's; left", ", ".join(left)
        )
    return deleted


#: The label prefix of the TargetGroupBindings the controller makes for an Ingress's ALB (a
#: Gateway's carry `gateway.k8s.aws.alb/...`).
INGRESS_BINDINGS = "ingress.k8s.aws"


def bindings_of(
    kube: Kube, namespace: str, name: str, prefix: str = INGRESS_BINDINGS
) -> list[Manifest]:
    """The TargetGroupBindings the controller made for a front door (by its labels)."""
    selector = f"{prefix}/stack-namespace={namespace},{prefix}/stack-name={name}"
    return list_objects(kube, *BINDING, namespace=namespace, label_selector=selector)


def release_bindings(kube: Kube, namespace: str, name: str, prefix: str) -> list[Manifest]:
    """Delete a front door's TargetGroupBindings and remove the controller's finalizer from
    them (the controller is gone); returns those found."""
    bindings = bindings_of(kube, namespace, name, prefix)
    for binding in bindings:
        _release(kube, binding, BINDING_FINALIZER)
    return bindings


@retrying_task
def find_ingress_bindings(
    target: KubeTarget, ingress: IngressRef = DEFAULT_INGRESS
) -> tuple[str, ...]:
    """The TargetGroupBindings the ALB controller made for the Ingress (by its labels)."""
    with connect(target) as kube:
        return tuple(key(item) for item in bindings_of(kube, ingress.namespace, ingress.name))


def _release(kube: Kube, obj: Manifest, finalizer: str) -> None:
    """Delete an object and remove one finalizer from it (the controller that owns it is gone)."""
    resource = resource_for(kube, obj)
    meta = obj.get("metadata") or {}
    if resource is None:
        return
    with translated(f"Releasing {key(obj)}"):
        try:
            if not meta.get("deletionTimestamp"):
                resource.delete(name=meta["name"], namespace=meta["namespace"])
            finalizers = list(meta.get("finalizers") or [])
            if finalizer in finalizers:
                kept = [item for item in finalizers if item != finalizer]
                resource.patch(
                    body=[
                        {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                        {"op": "replace", "path": "/metadata/finalizers", "value": kept},
                    ],
                    name=meta["name"],
                    namespace=meta["namespace"],
                    content_type="application/json-patch+json",
                )
        except Exception as error:
            if not is_not_found(error):
                raise


@retrying_task
def release_ingress(
    target: KubeTarget,
    *,
    stack: str,
    ingress: IngressRef = DEFAULT_INGRESS,
) -> bool:
    """Delete the stack's Ingress and its TargetGroupBindings without their ALB controller:
    remove the controller's finalizers (its AWS resources must be deleted first) and wait until
    they are gone. False when there was nothing to release."""
    settings, namespace, name = get_settings(), ingress.namespace, ingress.name
    with connect(target) as kube:
        state = read_ingress(kube, namespace, name)
        if state is not None and not state.owned_by(stack):
            raise OwnershipError(
                f"Ingress {state.key} does not carry stack {stack!r}'s labels; not deleting it."
            )
        bindings = bindings_of(kube, namespace, name)
        for binding in bindings:
            _release(kube, binding, BINDING_FINALIZER)
        live = get(kube, "networking.k8s.io/v1", "Ingress", name, namespace)
        if live is not None:
            _release(kube, live, ALB_FINALIZER)

        def left() -> list[str]:
            found = [key(item) for item in bindings_of(kube, namespace, name)]
            return found + (
                [f"Ingress {ingress.key}"] if read_ingress(kube, namespace, name) else []
            )

        wait_for(
            WAITS.deleted.of(f"Ingress {ingress.key} and its TargetGroupBindings"),
            riding_out_blips(left, [key(item) for item in bindings]),
            until=lambda seen: not seen,
            settings=settings,
            describe=lambda seen: f"still there: {seen}",
        )
    if state is None and not bindings:
        return False
    run_logger().info(
        "Released Ingress %s and %d TargetGroupBindings without their controller",
        ingress.key,
        len(bindings),
    )
    return True
