"""The Ingress for istio-ingressgateway: preflight, apply, wait for the ALB address, observe, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect import task

from core import naming
from core.alb import RECONCILE_ANNOTATION, service_target_port
from core.alb_options import describe_cleanup, lifting_annotation
from core.errors import KfalbError, KubernetesTransientError, PreflightError
from core.kubestate import DEFAULT_INGRESS, IngressOutcome, IngressRef, IngressState, KubeAccess
from core.manifests import Manifest
from core.settings import get_settings
from core.waits import WAITS
from tasks.k8s.apply import apply_objects, merge_patch, resource_for
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, list_objects, riding_out_blips, warning_events
from tasks.k8s.errors import translated
from tasks.k8s.webhooks import through_webhooks
from tasks.logs import run_logger
from tasks.retry import retrying_task
from tasks.waits import wait_for

_INGRESS = ("networking.k8s.io/v1", "Ingress")


@task
def preflight_kubernetes(target: KubeTarget) -> KubeAccess:
    """Check the Kubernetes API answers and that istio-system/istio-ingressgateway exists."""
    with connect(target) as kube:
        try:
            version = kube.dynamic.version.get("kubernetes", {}).get("gitVersion", "unknown")
        except KfalbError as error:
            raise PreflightError(
                f"The Kubernetes API at {kube.server} ({target.describe()}) is not reachable: "
                f"{error}. Check the kubeconfig context, the network path and the credentials."
            ) from error
        namespace, service = naming.INGRESS_NAMESPACE, naming.INGRESS_SERVICE
        if get(kube, "v1", "Namespace", namespace) is None:
            raise PreflightError(
                f"Namespace {namespace} does not exist at {kube.server}: install Kubeflow (with "
                "Istio) on this cluster first, or check the kubeconfig context."
            )
        found = get(kube, "v1", "Service", service, namespace)
        if found is None:
            raise PreflightError(
                f"Service {namespace}/{service} does not exist at {kube.server}: the Ingress "
                "routes to it. Is Kubeflow's Istio installed?"
            )
        ports = [port.get("port") for port in (found.get("spec") or {}).get("ports") or []]
        if 80 not in ports:
            raise PreflightError(
                f"Service {namespace}/{service} has no port 80 (ports: {ports}); the Ingress "
                "sends traffic to port 80."
            )
        run_logger().info(
            "Kubernetes %s at %s; %s/%s found", version, kube.server, namespace, service
        )
        return KubeAccess(server=kube.server, version=str(version))


@retrying_task
def ensure_ingress(
    target: KubeTarget, ingress: Manifest, *, stack: str, adopt: bool = False
) -> IngressOutcome:
    """Server-side apply the Ingress; an Ingress of the same name that is not ours is left alone.

    The ALB controller's webhook admits every Ingress write: while it does not answer yet, the
    apply is retried for up to KFALB_WEBHOOK_TIMEOUT_SECONDS."""
    meta = ingress["metadata"]
    with connect(target) as kube:
        report = through_webhooks(
            lambda: apply_objects(kube, [ingress], stack=stack, adopt=adopt),
            what=f"Ingress {meta['namespace']}/{meta['name']}",
        )
        state = read_ingress(kube, meta["namespace"], meta["name"])
    if state is None:  # deleted between apply and read: let a retry apply it again
        raise KubernetesTransientError(
            f"Ingress {meta['namespace']}/{meta['name']} vanished right after apply."
        )
    action = report.objects[0].action
    run_logger().info("Ingress %s: %s", state.key, action)
    return IngressOutcome(state=state, action=action)


@retrying_task
def request_reconcile(
    target: KubeTarget,
    *,
    stamp: str,
    ingress: IngressRef = DEFAULT_INGRESS,
) -> IngressState:
    """Ask the ALB controller to rebuild the ALB from the Ingress: change our reconcile
    annotation (AWS objects the controller owns are never edited directly)."""
    namespace, name = ingress.namespace, ingress.name
    with connect(target) as kube:
        _annotate(kube, namespace, name, {RECONCILE_ANNOTATION: stamp}, manager="reconcile")
        state = read_ingress(kube, namespace, name)
    if state is None:
        raise KubernetesTransientError(f"Ingress {ingress.key} vanished while annotated.")
    run_logger().info("Asked the ALB controller to reconcile Ingress %s", state.key)
    return state


@retrying_task
def observe_ingress(
    target: KubeTarget, ingress: IngressRef = DEFAULT_INGRESS
) -> IngressState | None:
    """The Ingress's class, ALB annotations, labels and load balancer hostname, or None."""
    with connect(target) as kube:
        return read_ingress(kube, ingress.namespace, ingress.name)


@retrying_task
def observe_gateway_port(
    target: KubeTarget,
    namespace: str = naming.INGRESS_NAMESPACE,
    name: str = naming.INGRESS_SERVICE,
    port: int = 80,
) -> int | None:
    """The gateway pods' port behind the Service port the Ingress uses (the ip target group's
    port), or None when the Service or a numeric targetPort is not there."""
    with connect(target) as kube:
        service = get(kube, "v1", "Service", name, namespace)
    return None if service is None else service_target_port(service, port)


@task
def wait_for_ingress_address(
    target: KubeTarget, ingress: IngressRef = DEFAULT_INGRESS
) -> IngressState:
    """Wait until the ALB controller writes the load balancer's hostname into the Ingress status."""
    settings, namespace, name = get_settings(), ingress.namespace, ingress.name
    with connect(target) as kube:
        found = wait_for(
            WAITS.ingress_address.of(ingress.key),
            riding_out_blips(lambda: read_ingress(kube, namespace, name), None),
            until=lambda state: state is not None and bool(state.hostname),
            settings=settings,
            describe=lambda state: _describe(kube, namespace, name, state),
        )
    assert found is not None  # accepted only with a hostname
    return found


def lift_annotation(kube: Kube, state: IngressState) -> IngressState | None:
    """Give the Ingress's load-balancer-attributes the values cleanup sets (deletion protection
    off, core/alb_options.py), so its controller may delete the ALB; None when it has them."""
    lifting = lifting_annotation(state.annotations)
    if not lifting:
        return None
    _annotate(kube, state.namespace, state.name, lifting, manager="cleanup")
    run_logger().info("Ingress %s annotated %s", state.key, describe_cleanup())
    return read_ingress(kube, state.namespace, state.name)


def group_peers(kube: Kube, state: IngressState) -> list[str]:
    """The other Ingresses of the state's IngressGroup that are not being deleted (the ALB is
    theirs too); none for an Ingress with an ALB of its own."""
    group = state.annotations.get(naming.GROUP_ANNOTATION)
    if not group:
        return []
    peers = []
    for item in list_objects(kube, *_INGRESS):
        meta = item.get("metadata") or {}
        peer = f"{meta.get('namespace')}/{meta.get('name')}"
        if (
            (meta.get("annotations") or {}).get(naming.GROUP_ANNOTATION) == group
            and not meta.get("deletionTimestamp")
            and peer != state.key
        ):
            peers.append(peer)
    return peers


def _annotate(
    kube: Kube, namespace: str, name: str, annotations: dict[str, str], *, manager: str
) -> None:
    resource = resource_for(kube, {"apiVersion": _INGRESS[0], "kind": _INGRESS[1]})
    if resource is None:
        raise PreflightError("The API server serves no networking.k8s.io/v1 Ingress.")
    with translated(f"Annotating Ingress {namespace}/{name}"):
        merge_patch(
            resource,
            {"metadata": {"annotations": annotations}},
            name=name,
            namespace=namespace,
            manager=manager,
        )


def read_ingress(kube: Kube, namespace: str, name: str) -> IngressState | None:
    """The Ingress as an IngressState, or None."""
    live = get(kube, *_INGRESS, name, namespace)
    return None if live is None else ingress_state(live)


def ingress_state(live: Mapping[str, Any]) -> IngressState:
    meta = live.get("metadata") or {}
    balancers = ((live.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return IngressState(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        ingress_class=(live.get("spec") or {}).get("ingressClassName"),
        annotations=dict(meta.get("annotations") or {}),
        labels=dict(meta.get("labels") or {}),
        hostname=(balancers[0].get("hostname") or None) if balancers else None,
        finalizers=tuple(meta.get("finalizers") or ()),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _describe(kube: Kube, namespace: str, name: str, state: IngressState | None) -> str:
    if state is None:
        seen = f"Ingress {namespace}/{name} does not exist"
    else:
        seen = f"Ingress {state.key} has no load balancer address"
        if state.deleting:
            seen = f"Ingress {state.key} is being deleted, finalizers {list(state.finalizers)}"
    events = warning_events(kube, namespace=namespace, kind="Ingress", name=name)
    if events:
        return f"{seen}; Warning events: " + " | ".join(events)
    return f"{seen}; no Warning events (is an ALB controller running for its IngressClass?)"
