"""Object validation as kube-apiserver does it, before admission webhooks: per-kind rules as data.

``validate(rtype, obj, old)`` raises the real errors: 400 ``BadRequest`` for what the server
cannot even decode (Secret data that is not base64), 422 ``Invalid`` with one cause per field
otherwise. ``RULES`` maps each built-in kind to its name rule and its spec rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.kube.errors import ApiError
from sandbox.kube.resources import ResourceType

from . import admissionreg, apiext, core, names, networking, rbac, workloads
from .fielderrors import FieldError, invalid_error
from .meta import NameRule, validate_object_meta

Obj = dict[str, Any]
SpecRule = Callable[[Obj, Obj | None], list[FieldError]]

__all__ = ["RULES", "KindRules", "decode_check", "validate"]


@dataclass(frozen=True)
class KindRules:
    """How one kind is validated: the rule for its name and the rule for the rest."""

    name: NameRule = names.dns1123_subdomain
    spec: SpecRule | None = None


# (group, kind) -> rules; kinds not listed get a DNS-subdomain name and metadata checks only.
RULES: dict[tuple[str, str], KindRules] = {
    ("", "Namespace"): KindRules(names.dns1123_label, core.namespace),
    ("", "Service"): KindRules(names.dns1035_label, core.service),
    ("", "ConfigMap"): KindRules(spec=core.config_map),
    ("", "Secret"): KindRules(spec=core.secret),
    ("", "ServiceAccount"): KindRules(spec=core.service_account),
    ("", "Pod"): KindRules(spec=workloads.pod),
    ("apps", "Deployment"): KindRules(spec=workloads.deployment),
    ("networking.k8s.io", "Ingress"): KindRules(spec=networking.ingress),
    ("networking.k8s.io", "IngressClass"): KindRules(spec=networking.ingress_class),
    ("discovery.k8s.io", "EndpointSlice"): KindRules(spec=networking.endpoint_slice),
    ("rbac.authorization.k8s.io", "Role"): KindRules(names.path_segment_name, rbac.role),
    ("rbac.authorization.k8s.io", "ClusterRole"): KindRules(
        names.path_segment_name, rbac.cluster_role
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): KindRules(
        names.path_segment_name, rbac.role_binding
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): KindRules(
        names.path_segment_name, rbac.cluster_role_binding
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): KindRules(
        spec=admissionreg.mutating
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): KindRules(
        spec=admissionreg.validating
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): KindRules(spec=apiext.crd),
}
_DEFAULT = KindRules()
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_problem(value: Any) -> int | None:
    """The input byte at which Go's base64.StdEncoding gives up, or None when ``value`` decodes."""
    if not isinstance(value, str):
        return 0
    data = value.encode().replace(b"\r", b"").replace(b"\n", b"")
    body = data.rstrip(b"=")
    for index, char in enumerate(body):
        if char not in _BASE64:
            return index
    padding = len(data) - len(body)
    if len(data) % 4 or padding > 2 or (padding and len(body) % 4 in (0, 1)):
        return len(data) - len(data) % 4 if len(data) % 4 else len(body)
    return None


def decode_check(rtype: ResourceType, obj: Obj) -> None:
    """Raise the 400 a real server answers when the object cannot be decoded into its type."""
    if rtype.custom or rtype.kind != "Secret":
        return
    for value in (obj.get("data") or {}).values():
        at = base64_problem(value)
        if at is not None:
            raise ApiError(
                400,
                "BadRequest",
                f'Secret in version "{rtype.version}" cannot be handled as a Secret: '
                f"illegal base64 data at input byte {at}",
            )


def validate(rtype: ResourceType, obj: Obj, old: Obj | None = None) -> None:
    """Raise 400 or 422 for an object the real API server would refuse (``old``: on update)."""
    decode_check(rtype, obj)
    rules = _DEFAULT if rtype.custom else RULES.get((rtype.group, rtype.kind), _DEFAULT)
    meta = obj.get("metadata") or {}
    errors = validate_object_meta(meta, name_rule=rules.name, namespaced=rtype.namespaced)
    if rules.spec is not None:
        errors += rules.spec(obj, old)
    if errors:
        raise invalid_error(rtype.kind, rtype.group, meta.get("name", ""), errors)
