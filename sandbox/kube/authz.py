"""Authorization: RBAC evaluated for non-admin identities, SelfSubjectAccessReview, real 403s.

Identities come from bearer tokens. Admin tokens (the static ones, EKS tokens: the cluster
creator) are in ``system:masters`` and may do anything. *Access entries* model EKS access
entries: a token mapped to a Kubernetes user and groups, whose rights are exactly what the
Roles, ClusterRoles and bindings in the store grant them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .routing import Route
from .storebase import Object, StoreBase

MASTERS = "system:masters"
_RBAC = "rbac.authorization.k8s.io/v1"
_ALWAYS_ALLOWED = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews"})


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = field(default=())

    @property
    def admin(self) -> bool:
        return MASTERS in self.groups


ADMIN = Identity("kubernetes-admin", (MASTERS, "system:authenticated"))


@dataclass(frozen=True)
class Attributes:
    """What a request does, as the authorizer sees it."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def attributes_of(method: str, route: Route, query: Mapping[str, str]) -> Attributes:
    if method == "GET":
        verb = "get" if route.name else ("watch" if query.get("watch") in ("1", "true") else "list")
    elif method == "DELETE":
        verb = "delete" if route.name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return Attributes(
        verb=verb,
        group=route.rtype.group,
        resource=route.rtype.plural,
        subresource=route.subresource,
        namespace=route.namespace or "",
        name=route.name or "",
    )


def _listed(value: str, allowed: Sequence[str] | None) -> bool:
    return bool(allowed) and ("*" in allowed or value in allowed)  # type: ignore[operator]


def _rule_allows(rule: Object, attrs: Attributes) -> bool:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    names = rule.get("resourceNames") or []
    if names and (not attrs.name or attrs.name not in names):
        return False
    resources = rule.get("resources") or []
    return (
        _listed(attrs.verb, rule.get("verbs"))
        and _listed(attrs.group, rule.get("apiGroups"))
        and ("*" in resources or resource in resources or f"{attrs.resource}/*" in resources)
    )


def _subject_matches(subject: Object, identity: Identity) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == identity.user)
    if kind == "Group":
        return name in identity.groups
    if kind == "ServiceAccount":
        return identity.user == f"system:serviceaccount:{subject.get('namespace')}:{name}"
    return False


class Authorizer:
    """RBAC over the store's Roles and bindings, like kube-apiserver's RBAC authorizer."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store

    def _list(self, kind: str, namespace: str | None = None) -> list[Object]:
        rtype = self.store.registry.by_kind(_RBAC, kind)
        if rtype is None:
            return []
        items, _ = self.store.list_objects(rtype, namespace)
        return items

    def _role_rules(self, ref: Object, namespace: str) -> list[Object]:
        kind, name = ref.get("kind"), ref.get("name")
        for role in self._list(str(kind), namespace if kind == "Role" else None):
            if role["metadata"]["name"] == name:
                return list(role.get("rules") or [])
        return []

    def allowed(self, identity: Identity, attrs: Attributes) -> tuple[bool, str]:
        """Whether ``identity`` may do ``attrs``, and the reason RBAC gives when it may."""
        if identity.admin or attrs.resource in _ALWAYS_ALLOWED:
            return True, ""
        for binding in self._list("ClusterRoleBinding"):
            if not any(_subject_matches(s, identity) for s in binding.get("subjects") or []):
                continue
            ref = binding.get("roleRef") or {}
            if any(_rule_allows(r, attrs) for r in self._role_rules(ref, "")):
                return True, (
                    f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}" of '
                    f'ClusterRole "{ref.get("name")}" to {_who(identity, binding)}'
                )
        if attrs.namespace:
            for binding in self._list("RoleBinding", attrs.namespace):
                if not any(_subject_matches(s, identity) for s in binding.get("subjects") or []):
                    continue
                ref = binding.get("roleRef") or {}
                if any(_rule_allows(r, attrs) for r in self._role_rules(ref, attrs.namespace)):
                    return True, (
                        f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/'
                        f'{attrs.namespace}" of {ref.get("kind")} "{ref.get("name")}" to '
                        f"{_who(identity, binding)}"
                    )
        return False, ""

    def check(self, identity: Identity, attrs: Attributes) -> None:
        """Raise the real 403 when ``identity`` may not do ``attrs``."""
        if not self.allowed(identity, attrs)[0]:
            raise forbidden_error(identity, attrs)

    def review(self, identity: Identity, body: Any) -> Object:
        """Answer a SelfSubjectAccessReview (what ``kubectl auth can-i`` sends)."""
        body = body if isinstance(body, dict) else {}
        spec = body.get("spec") or {}
        resource = spec.get("resourceAttributes") or {}
        status: Object
        if resource:
            attrs = Attributes(
                verb=resource.get("verb", ""),
                group=resource.get("group", ""),
                resource=resource.get("resource", ""),
                subresource=resource.get("subresource", ""),
                namespace=resource.get("namespace", ""),
                name=resource.get("name", ""),
            )
            allowed, reason = self.allowed(identity, attrs)
            status = {"allowed": allowed}
            if reason:
                status["reason"] = reason
        else:  # non-resource URLs (/healthz, /api...) are open to every authenticated user
            status = {"allowed": True}
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }


def _who(identity: Identity, binding: Object) -> str:
    for subject in binding.get("subjects") or []:
        if _subject_matches(subject, identity):
            return f'{subject.get("kind")} "{subject.get("name")}"'
    return f'User "{identity.user}"'


def forbidden_error(identity: Identity, attrs: Attributes) -> ApiError:
    """kube-apiserver's 403 for a request the authorizer refused (ForbiddenStatusError)."""
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    why = (
        f'User "{identity.user}" cannot {attrs.verb} resource "{resource}" in API group '
        f'"{attrs.group}" {scope}'
    )
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    message = (
        f'{qualified} "{attrs.name}" is forbidden: {why}'
        if attrs.name
        else f"{qualified} is forbidden: {why}"
    )
    details: Object = (
        {"name": attrs.name, "kind": attrs.resource} if attrs.name else {"kind": attrs.resource}
    )
    if attrs.group:
        details["group"] = attrs.group
    return ApiError(403, "Forbidden", message, details=details)
