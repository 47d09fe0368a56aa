"""Explicit IngressGroups (``alb.ingress.kubernetes.io/group.name``): the members' models merged
into one stack with one ALB, as the v2.17 controller does (pure).

The members are ordered by ``group.order`` then ``namespace/name``; the merged ALB has every
member's listeners (the certificates of all, in member order), rules (renumbered across the
group) and target groups. Members that disagree on the scheme, a listener's protocol or a tag
value make the model fail to build, as upstream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from sandbox.albcontroller.model import (
    ANNOTATION,
    BuildError,
    ListenerModel,
    RuleModel,
    StackModel,
    TargetGroupModel,
    _clean,
    _uuid,
)

GROUP_ANNOTATION = ANNOTATION + "group.name"
ORDER_ANNOTATION = ANNOTATION + "group.order"


def group_of(ingress: dict[str, Any]) -> str | None:
    """The explicit group an Ingress belongs to, or None (its own implicit group)."""
    annotations = ingress["metadata"].get("annotations") or {}
    value = annotations.get(GROUP_ANNOTATION)
    return str(value) if value else None


def members(ingresses: Iterable[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """The group's Ingresses that are not being deleted, in the controller's order."""
    found = [
        ingress
        for ingress in ingresses
        if group_of(ingress) == group and not ingress["metadata"].get("deletionTimestamp")
    ]

    def order(ingress: dict[str, Any]) -> tuple[int, str]:
        meta = ingress["metadata"]
        raw = (meta.get("annotations") or {}).get(ORDER_ANNOTATION, "0")
        try:
            number = int(raw)
        except ValueError:
            raise BuildError(f"failed to load Ingress group order: {raw}") from None
        return number, f"{meta['namespace']}/{meta['name']}"

    return sorted(found, key=order)


def merge(group: str, models: list[StackModel], *, cluster: str) -> StackModel:
    """One stack for the group from its members' models (in member order)."""
    if not models:
        raise BuildError(f"Ingress group {group} has no members")
    schemes = {model.scheme for model in models}
    if len(schemes) > 1:
        raise BuildError(f"conflicting scheme: {sorted(schemes)}")
    scheme = models[0].scheme
    listeners: dict[int, ListenerModel] = {}
    rules: list[RuleModel] = []
    tags: dict[str, str] = {}
    attributes: dict[str, str] = {}
    target_groups: dict[str, TargetGroupModel] = {}
    for model in models:
        for listener in model.listeners:
            listeners[listener.port] = _merged_listener(listeners.get(listener.port), listener)
        for rule in model.rules:
            rules.append(dataclasses.replace(rule, priority=len(rules) + 1))
        for group_model in model.target_groups:
            target_groups.setdefault(group_model.resource_id, group_model)
        _merge_map(tags, model.tags, "tag")
        _merge_map(attributes, model.attributes, "load balancer attribute")
    name = f"k8s-{_clean(group)[:17]}-{_uuid(cluster, group, scheme)[:10]}"
    return StackModel(
        stack_id=group,
        scheme=scheme,
        lb_name=name,
        sg_name=f"k8s-{_clean(group)[:17]}-{_uuid(cluster, group)[:10]}",
        tags=tags,
        listeners=tuple(listeners[port] for port in sorted(listeners)),
        target_groups=tuple(target_groups.values()),
        rules=tuple(rules),
        attributes=attributes,
    )


def _merged_listener(seen: ListenerModel | None, new: ListenerModel) -> ListenerModel:
    if seen is None:
        return new
    if seen.protocol != new.protocol:
        raise BuildError(
            f"conflicting protocol for port {new.port}: {seen.protocol} | {new.protocol}"
        )
    certificates = seen.certificates + tuple(
        c for c in new.certificates if c not in seen.certificates
    )
    return dataclasses.replace(
        seen,
        certificates=certificates,
        ssl_policy=seen.ssl_policy or new.ssl_policy,
        redirect_to=seen.redirect_to if seen.redirect_to is not None else new.redirect_to,
    )


def _merge_map(into: dict[str, str], new: dict[str, str], what: str) -> None:
    for key, value in new.items():
        if key in into and into[key] != value:
            raise BuildError(f"conflicting {what} {key}: {into[key]} | {value}")
        into[key] = value
