"""Server-side apply of rendered objects with our field manager, reporting what changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.dynamic.resource import Resource

from core import naming, sharing
from core.errors import KubernetesError, OwnershipError
from core.kubestate import AppliedObject, ApplyAction, ApplyReport
from core.manifests import Manifest, apply_order, is_crd, key
from core.settings import get_settings
from core.waits import WAITS
from tasks.k8s.clients import Kube
from tasks.k8s.errors import is_not_found, translated
from tasks.logs import run_logger
from tasks.waits import wait_for


def resource_for(kube: Kube, obj: Mapping[str, Any]) -> Resource | None:
    """The API resource serving obj's kind, or None when the server does not know the kind."""
    with translated(f"Discovering {obj.get('apiVersion')} {obj.get('kind')}"):
        try:
            found: Resource = kube.dynamic.resources.get(
                api_version=obj["apiVersion"], kind=obj["kind"]
            )
        except ResourceNotFoundError:
            return None
    return found


def merge_patch(
    resource: Resource, body: Mapping[str, Any], *, name: str, namespace: str, manager: str
) -> None:
    """Merge-patch one object, as kubeflow-alb's field manager for `manager`'s changes."""
    resource.patch(
        body=body,
        name=name,
        namespace=namespace,
        content_type="application/merge-patch+json",
        field_manager=f"{naming.FIELD_MANAGER}-{manager}",
    )


def read(kube: Kube, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The live object named like obj, as a dict, or None when it (or its kind) does not exist."""
    resource = resource_for(kube, obj)
    if resource is None:
        return None
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") if resource.namespaced else None
    with translated(f"Reading {key(obj)}"):
        try:
            live = resource.get(name=meta["name"], namespace=namespace)
        except Exception as error:
            if is_not_found(error):
                return None
            raise
    result: dict[str, Any] = live.to_dict()
    return result


def is_owned(live: Mapping[str, Any] | None, stack: str, *, shared: bool = False) -> bool:
    """True when the object carries the stack's labels; `shared`: any kubeflow-alb stack's (the
    controller, which the stacks of a cluster share)."""
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    return sharing.made_by_tool(labels) if shared else naming.is_owned(labels, stack)


def apply_objects(
    kube: Kube,
    objects: Iterable[Manifest],
    *,
    stack: str,
    adopt: bool = False,
    shared: bool = False,
) -> ApplyReport:
    """Apply objects (CRDs first, then the rest once their kinds are served); report each action.

    Objects that exist without this stack's ownership labels are not ours: raise OwnershipError
    before writing anything, unless `adopt`.
    """
    ordered = apply_order(objects)
    crds = [obj for obj in ordered if is_crd(obj)]
    before = {key(crd): read(kube, crd) for crd in crds}
    # Kinds of CRDs not created yet cannot have objects: skip probing them (each miss costs a
    # full re-discovery).
    unborn = {kind for crd in crds if before[key(crd)] is None for kind in _kinds(crd)}
    for obj in ordered:
        if not is_crd(obj):
            served = (obj.get("apiVersion"), obj.get("kind")) not in unborn
            before[key(obj)] = read(kube, obj) if served else None
    if not adopt:
        _refuse(before, stack=stack, shared=shared)
    results = [_apply_one(kube, obj, before[key(obj)]) for obj in crds]
    if crds:
        wait_for_kinds(kube, crds)
    results += [_apply_one(kube, obj, before[key(obj)]) for obj in ordered if not is_crd(obj)]
    report = ApplyReport(objects=tuple(results))
    run_logger().info(
        "Applied %d objects: %d created, %d changed, %d unchanged",
        len(results),
        len(report.of("created")),
        len(report.of("changed")),
        len(report.of("unchanged")),
    )
    return report


def _refuse(live: Mapping[str, Mapping[str, Any] | None], *, stack: str, shared: bool) -> None:
    foreign = [
        name
        for name, found in live.items()
        if found is not None and not is_owned(found, stack, shared=shared)
    ]
    if foreign:
        raise OwnershipError(
            f"These objects exist but do not carry stack {stack!r}'s labels, so they are not ours to "
            f"change: {', '.join(foreign)}. Remove them (or the tool that installed them) first."
        )


def refuse_foreign(
    kube: Kube, objects: Iterable[Manifest], *, stack: str, shared: bool = False
) -> None:
    """Raise OwnershipError naming the objects that exist without this stack's labels (any
    kubeflow-alb stack's when `shared`), before anything is written."""
    _refuse({key(obj): read(kube, obj) for obj in objects}, stack=stack, shared=shared)


def wait_for_kinds(kube: Kube, crds: list[Manifest]) -> None:
    """Wait until every CRD's kind is served (established and in discovery)."""
    settings = get_settings()
    wanted = [
        {"apiVersion": version, "kind": kind} for crd in crds for version, kind in _kinds(crd)
    ]

    def missing() -> list[str]:
        kube.refresh_discovery()
        return [
            f"{item['apiVersion']} {item['kind']}"
            for item in wanted
            if not resource_for(kube, item)
        ]

    wait_for(
        WAITS.kinds_served.of(", ".join(key(crd) for crd in crds)),
        missing,
        until=lambda left: not left,
        settings=settings,
        describe=lambda left: f"not yet in discovery: {', '.join(left or [])}",
    )


def delete_objects(
    kube: Kube, objects: Iterable[Manifest], *, stack: str, shared: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Delete the objects that carry this stack's labels, in reverse apply order.

    Returns (deleted, left): `left` are objects that exist but are not ours.
    """
    deleted: list[str] = []
    left: list[str] = []
    for obj in reversed(apply_order(objects)):
        live = read(kube, obj)
        if live is None:
            continue
        if not is_owned(live, stack, shared=shared):
            left.append(key(obj))
            continue
        resource = resource_for(kube, obj)
        if resource is None:
            continue
        meta = obj["metadata"]
        with translated(f"Deleting {key(obj)}"):
            try:
                resource.delete(
                    name=meta["name"],
                    namespace=meta.get("namespace") if resource.namespaced else None,
                    body={"propagationPolicy": "Background"},
                )
            except Exception as error:
                if not is_not_found(error):
                    raise
                continue
        deleted.append(key(obj))
    run_logger().info(
        "Deleted %s; left (not ours): %s",
        ", ".join(deleted) or "nothing",
        ", ".join(left) or "none",
    )
    return tuple(deleted), tuple(left)


def _kinds(crd: Manifest) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every served version of a CRD."""
    spec = crd["spec"]
    return [
        (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
        for version in spec["versions"]
        if version.get("served", True)
    ]


def _apply_one(kube: Kube, obj: Manifest, live: Mapping[str, Any] | None) -> AppliedObject:
    resource = resource_for(kube, obj)
    if resource is None:
        raise KubernetesError(
            f"{key(obj)}: the API server does not serve {obj.get('apiVersion')} {obj.get('kind')}."
        )
    body = dict(obj)
    meta = dict(body.get("metadata") or {})
    if not resource.namespaced:
        meta.pop("namespace", None)
    elif not meta.get("namespace"):
        raise KubernetesError(
            f"{key(obj)} has no namespace; set metadata.namespace in the manifest."
        )
    body["metadata"] = meta
    with translated(f"Applying {key(obj)}"):
        applied = resource.server_side_apply(
            body=body, field_manager=naming.FIELD_MANAGER, force_conflicts=True
        )
    version = applied.metadata.resourceVersion
    action: ApplyAction
    if live is None:
        action = "created"
    elif version != (live.get("metadata") or {}).get("resourceVersion"):
        action = "changed"
    else:
        action = "unchanged"
    run_logger().debug("%s: %s", key(body), action)
    return AppliedObject(key=key(body), action=action)
