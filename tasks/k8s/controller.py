"""The AWS Load Balancer Controller: find the one in use (Helm or EKS Auto Mode), or install ours."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from core import naming, sharing
from core.controller_versions import DEFAULT_CONTROLLER_VERSION
from core.errors import KubernetesError, PreflightError
from core.kubestate import (
    AppliedObject,
    ApplyReport,
    ControllerOutcome,
    ControllerState,
    DeleteReport,
)
from core.manifests import (
    ALB_CONTROLLERS,
    LBC_CONTROLLER,
    ROLE_ARN_ANNOTATION,
    WEBHOOK_SECRET,
    WEBHOOK_SERVICE,
    ControllerParams,
    Manifest,
    controller_version,
)
from core.settings import get_settings
from core.waits import WAITS
from tasks.cluster_lock import cluster_lease
from tasks.k8s import manifests
from tasks.k8s.apply import (
    apply_objects,
    delete_objects,
    merge_patch,
    refuse_foreign,
    resource_for,
)
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, list_objects, riding_out_blips, warning_events
from tasks.k8s.errors import translated
from tasks.k8s.webhook_secret import observe_webhook_ca, stored_webhook_tls
from tasks.logs import run_logger
from tasks.retry import retrying_task
from tasks.shared import SharedItem, release
from tasks.waits import wait_for

Mode = Literal["auto", "install", "skip"]
_NAME_LABEL = f"app.kubernetes.io/name={naming.CONTROLLER_NAME}"
_DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"


def read_controller(kube: Kube, stack: str) -> ControllerState:
    """The ALB IngressClass and the controller Deployment in kube-system, as found."""
    classes = [
        item
        for item in list_objects(kube, "networking.k8s.io/v1", "IngressClass")
        if (item.get("spec") or {}).get("controller") in ALB_CONTROLLERS
    ]
    chosen = _preferred_class(classes)
    deployments = list_objects(
        kube,
        "apps/v1",
        "Deployment",
        namespace=naming.CONTROLLER_NAMESPACE,
        label_selector=_NAME_LABEL,
    )
    named = get(kube, "apps/v1", "Deployment", naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE)
    if named is not None and all(_name(d) != naming.CONTROLLER_NAME for d in deployments):
        deployments.append(named)
    best = max(deployments, key=_ready, default=None)
    account = get(
        kube, "v1", "ServiceAccount", naming.CONTROLLER_SERVICE_ACCOUNT, naming.CONTROLLER_NAMESPACE
    )
    owned = any(item is not None and sharing.made_by_tool(_labels(item)) for item in (best, chosen))
    return ControllerState(
        role_annotation=_annotations(account or {}).get(ROLE_ARN_ANNOTATION),
        ingress_class=_name(chosen) if chosen else None,
        class_controller=(chosen.get("spec") or {}).get("controller") if chosen else None,
        deployment=f"{naming.CONTROLLER_NAMESPACE}/{_name(best)}" if best else None,
        ready_replicas=_ready(best) if best else 0,
        version=controller_version(best) if best else None,
        # Ours when either part carries a kubeflow-alb stack's labels: the cluster's stacks
        # share one install, and a half-removed one is still ours to repair.
        owned=owned,
        users=sharing.item_users(_marks(best)) if best is not None else (),
        # Our install's webhook TLS: do both configurations trust the Secret's CA?
        webhook_ca=observe_webhook_ca(kube) if owned else None,
    )


@retrying_task
def observe_controller(target: KubeTarget, stack: str) -> ControllerState:
    """Find the ALB controller: an IngressClass for ALB and a ready controller Deployment."""
    with connect(target) as kube:
        return read_controller(kube, stack)


@retrying_task
def ensure_controller(
    target: KubeTarget,
    *,
    mode: Mode,
    stack: str,
    cluster_name: str,
    region: str,
    vpc_id: str,
    role_arn: str,
    identity: str = "irsa",
    adopt: bool = False,
    version: str = DEFAULT_CONTROLLER_VERSION,
) -> ControllerOutcome:
    """Use the cluster's ALB controller (auto), install ours and wait until it serves (install), or
    leave it to you (skip). Re-running converges: our objects are re-applied, unchanged; with
    another `version`, they are moved to that version's (CRDs first) and the rollout awaited."""
    log = run_logger()
    with connect(target) as kube:
        state = read_controller(kube, stack)
        if mode == "skip" or (mode == "auto" and state.usable and not state.owned):
            if not state.usable:
                log.warning("No ALB controller found; the Ingress waits until you install one.")
            log.info("Using %s (IngressClass %s)", state.provider, state.ingress_class)
            return ControllerOutcome(
                provider=state.provider,
                ingress_class=state.ingress_class or naming.INGRESS_CLASS,
                installed=False,
            )
        if mode == "auto" and state.class_controller == LBC_CONTROLLER and not state.owned:
            raise PreflightError(
                f"IngressClass {state.ingress_class} for {LBC_CONTROLLER} exists, but no ready "
                f"controller Deployment was found in {naming.CONTROLLER_NAMESPACE} "
                f"(found: {state.deployment or 'none'}). Repair that installation, or set "
                "stack.controller to skip if it runs elsewhere."
            )
        params = ControllerParams(stack=stack, cluster_name=cluster_name, region=region,
                                  vpc_id=vpc_id, role_arn=role_arn, ca_bundle=b"",
                                  version=version, identity=identity)  # fmt: skip
        # The cluster's lock while the shared install and the marks are written; not while
        # the rollout is awaited.
        with cluster_lease(region, cluster_name, holder=stack):
            found = _deployment(kube)  # read before the install relabels it
            report = _install(kube, params, adopt=adopt)
            hold_controller(kube, stack, _marks(found) if found is not None else {})
        wait_controller_ready(kube)
        log.info(
            "Controller %s installed: created %s; changed %s",
            version,
            ", ".join(report.of("created")) or "nothing",
            ", ".join(report.of("changed")) or "nothing",
        )
        return ControllerOutcome(
            provider="aws-load-balancer-controller",
            ingress_class=naming.INGRESS_CLASS,
            installed=True,
            applied=report,
        )


@retrying_task
def delete_controller(target: KubeTarget, stack: str) -> DeleteReport:
    """Remove the stack's use of the cluster's controller: drop its mark, read the marks again,
    and delete the objects a kubeflow-alb stack installed (only those with such labels) when no
    mark remains; else the controller stays for the others. Under the cluster's lock (the
    cluster as the controller's own flags name it)."""
    with connect(target) as kube:
        deployment = _deployment(kube)
        cluster, region = _cluster_flags(deployment)
        with cluster_lease(region, cluster or kube.server, holder=stack):
            done: list[DeleteReport] = []
            item = controller_item(kube, stack, done)
            if item.read_marks() is None:  # no install of ours with users: what is left goes
                return _delete_install(kube, stack)
            release(item, stack)  # kept for other users: it says for whom
            return done[0] if done else DeleteReport(deleted=(), left=())


def controller_item(kube: Kube, stack: str, done: list[DeleteReport]) -> SharedItem:
    """The controller as a shared item (tasks/shared.py): its users are marked on its
    Deployment; deleting it removes every object of the install (reported into `done`)."""

    def marks() -> dict[str, str] | None:
        found = _deployment(kube)
        return None if found is None or not sharing.made_by_tool(_labels(found)) else _marks(found)

    def delete() -> bool:
        done.append(_delete_install(kube, stack))
        return True

    return SharedItem(
        what="The ALB controller", read_marks=marks, delete=delete,
        remove_marks=lambda keys: _patch_marks(kube, dict.fromkeys(keys)),
        add_marks=lambda found: _patch_marks(kube, dict(found)),
    )  # fmt: skip


def _delete_install(kube: Kube, stack: str) -> DeleteReport:
    bindings = list_objects(kube, "elbv2.k8s.aws/v1beta1", "TargetGroupBinding")
    if bindings:
        names = ", ".join(
            f"{(b.get('metadata') or {}).get('namespace')}/{_name(b)}" for b in bindings[:5]
        )
        raise KubernetesError(
            f"Not removing the controller: it still manages {len(bindings)} TargetGroupBindings "
            f"({names}); delete their Ingresses or Services first, or their AWS resources leak."
        )
    objects = [*manifests.every_controller_object(), _secret_stub()]
    deleted, left = delete_objects(kube, objects, stack=stack, shared=True)
    return DeleteReport(deleted=deleted, left=left)


def hold_controller(kube: Kube, stack: str, found: dict[str, str]) -> None:
    """Mark the stack as a user of the controller, whose marks were `found` (read under the
    cluster's lock, before the install relabelled it): a previous-version installer keeps its
    use as a mark of its own; no other stack's mark is written from an earlier read. A merge
    patch of only these annotations, under a field manager of its own, so the install's
    server-side apply never removes another stack's mark."""
    marks = sharing.marks_to_hold(found, stack)
    if marks:
        _patch_marks(kube, dict(marks))


def _deployment(kube: Kube) -> Manifest | None:
    return get(kube, "apps/v1", "Deployment", naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE)


def _cluster_flags(deployment: Manifest | None) -> tuple[str, str]:
    """(cluster name, region) as the controller's flags give them (empty when absent)."""
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    flags: dict[str, str] = {}
    for container in (template.get("spec") or {}).get("containers") or []:
        for arg in container.get("args") or []:
            flag, _, value = str(arg).partition("=")
            flags[flag] = value
    return flags.get("--cluster-name", ""), flags.get("--aws-region", "")


def _patch_marks(kube: Kube, marks: dict[str, str | None]) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": naming.CONTROLLER_NAME,
                               "namespace": naming.CONTROLLER_NAMESPACE}}  # fmt: skip
    resource = resource_for(kube, deployment)
    if resource is None:
        return
    with translated(f"Marking the users of Deployment {naming.CONTROLLER_NAMESPACE}/"
                    f"{naming.CONTROLLER_NAME}"):  # fmt: skip
        merge_patch(
            resource,
            {"metadata": {"annotations": marks}},
            name=naming.CONTROLLER_NAME,
            namespace=naming.CONTROLLER_NAMESPACE,
            manager="users",  # the user marks have a field manager apart from the install's
        )


def wait_controller_ready(kube: Kube) -> None:
    """Wait for the Deployment's rollout and an address behind the webhook Service, bounded."""
    settings = get_settings()

    def fetch() -> tuple[Manifest | None, bool]:
        deployment = get(
            kube, "apps/v1", "Deployment", naming.CONTROLLER_NAME, naming.CONTROLLER_NAMESPACE
        )
        return deployment, _rolled_out(deployment) and _webhook_has_endpoints(kube)

    def describe(last: tuple[Manifest | None, bool] | None) -> str:
        deployment = last[0] if last else None
        events = warning_events(
            kube,
            namespace=naming.CONTROLLER_NAMESPACE,
            kind="Pod",
            name_prefix=naming.CONTROLLER_NAME,
        ) + warning_events(
            kube,
            namespace=naming.CONTROLLER_NAMESPACE,
            kind="ReplicaSet",
            name_prefix=naming.CONTROLLER_NAME,
        )
        return _describe_deployment(deployment) + (
            "; Warning events: " + " | ".join(events) if events else ""
        )

    nothing_yet: tuple[Manifest | None, bool] = (None, False)
    wait_for(
        WAITS.controller_ready.of(
            f"{naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_NAME}", WEBHOOK_SERVICE
        ),
        riding_out_blips(fetch, nothing_yet),
        until=lambda seen: seen[1],
        settings=settings,
        describe=describe,
    )


def _install(kube: Kube, params: ControllerParams, *, adopt: bool) -> ApplyReport:
    """Apply the controller with the caBundles of both webhook configurations built from the
    TLS stored in the Secret (written create-only: see tasks/k8s/webhook_secret.py). Objects
    that are not a kubeflow-alb stack's stop it before anything is written."""
    rendered = manifests.render(manifests.controller_base(params.version))
    if not adopt:
        refuse_foreign(kube, rendered, stack=params.stack, shared=True)
    tls, action = stored_webhook_tls(kube, params.stack, adopt=adopt)
    configured = replace(params, ca_bundle=tls.ca_pem)
    objects = [obj for obj in manifests.controller_objects(configured, tls) if not _is_secret(obj)]
    report = apply_objects(kube, objects, stack=params.stack, adopt=adopt, shared=True)
    secret = AppliedObject(key=f"Secret {naming.CONTROLLER_NAMESPACE}/{WEBHOOK_SECRET}",
                           action=action)  # fmt: skip
    return ApplyReport(objects=(secret, *report.objects))


def _is_secret(obj: Manifest) -> bool:
    return obj.get("kind") == "Secret" and _name(obj) == WEBHOOK_SECRET


def _rolled_out(deployment: Manifest | None) -> bool:
    if deployment is None:
        return False
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation") or 0
    return (
        (status.get("observedGeneration") or 0) >= generation
        and (status.get("updatedReplicas") or 0) >= 1
        and _ready(deployment) >= 1
    )


def _webhook_has_endpoints(kube: Kube) -> bool:
    slices = list_objects(
        kube,
        "discovery.k8s.io/v1",
        "EndpointSlice",
        namespace=naming.CONTROLLER_NAMESPACE,
        label_selector=f"kubernetes.io/service-name={WEBHOOK_SERVICE}",
    )
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            if endpoint.get("addresses") and (endpoint.get("conditions") or {}).get("ready", True):
                return True
    endpoints = get(kube, "v1", "Endpoints", WEBHOOK_SERVICE, naming.CONTROLLER_NAMESPACE) or {}
    return any(subset.get("addresses") for subset in endpoints.get("subsets") or [])


def _describe_deployment(deployment: Manifest | None) -> str:
    if deployment is None:
        return f"Deployment {naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_NAME} does not exist"
    status = deployment.get("status") or {}
    counts = ", ".join(
        f"{name}={status.get(name) or 0}"
        for name in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    )
    conditions = "; ".join(
        f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
        for c in status.get("conditions") or []
    )
    return f"{counts}; conditions: {conditions or 'none'}"


def _preferred_class(classes: list[Manifest]) -> Manifest | None:
    def rank(item: Manifest) -> tuple[bool, bool, str]:
        annotations = (item.get("metadata") or {}).get("annotations") or {}
        return (
            _name(item) != naming.INGRESS_CLASS,
            annotations.get(_DEFAULT_CLASS) != "true",
            _name(item),
        )

    return min(classes, key=rank, default=None)


def _secret_stub() -> Manifest:
    meta = {"name": WEBHOOK_SECRET, "namespace": naming.CONTROLLER_NAMESPACE}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta}


def _name(item: Manifest) -> str:
    return str((item.get("metadata") or {}).get("name", ""))


def _labels(item: Manifest) -> dict[str, str]:
    labels: dict[str, str] = (item.get("metadata") or {}).get("labels") or {}
    return labels


def _annotations(item: Manifest) -> dict[str, str]:
    annotations: dict[str, str] = (item.get("metadata") or {}).get("annotations") or {}
    return annotations


def _marks(item: Manifest) -> dict[str, str]:
    """Labels (the previous version's stack mark) and annotations (user marks) together."""
    return {**_labels(item), **_annotations(item)}


def _ready(item: Manifest) -> int:
    return int((item.get("status") or {}).get("readyReplicas") or 0)
