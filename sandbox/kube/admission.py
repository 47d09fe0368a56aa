"""Admission webhooks as far as the stand-in can model them: a matching webhook must be reachable.

The stand-in cannot call a webhook, but it can tell when a real API server could not: a
webhook whose Service has no ready endpoints fails every request it matches (with
``failurePolicy: Fail``), exactly as a cluster does while a webhook's controller is not running.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .resources import ResourceType
from .selectors import label_selector_matches
from .storebase import Object, StoreBase

_CONFIG_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def _listed(value: str, allowed: list[str]) -> bool:
    return "*" in allowed or value in allowed


def _resource_matches(resource: str, subresource: str, patterns: list[str]) -> bool:
    """Rule resources: "pods", "pods/status", "pods/*", "*" (no subresources), "*/*", "*/status"."""
    for pattern in patterns:
        main, _, sub = pattern.partition("/")
        if main not in ("*", resource):
            continue
        if (not sub and not subresource) or sub == "*" or (sub and sub == subresource):
            return True
    return False


def rule_matches(
    rule: dict[str, Any], rtype: ResourceType, operation: str, subresource: str
) -> bool:
    scope = rule.get("scope", "*")
    return (
        _listed(rtype.group, rule.get("apiGroups") or [])
        and _listed(rtype.version, rule.get("apiVersions") or [])
        and _listed(operation, rule.get("operations") or [])
        and _resource_matches(rtype.plural, subresource, rule.get("resources") or [])
        and (scope == "*" or (scope == "Namespaced") == rtype.namespaced)
    )


class AdmissionMixin(StoreBase):
    """Refuses writes that a matching, unreachable admission webhook would fail."""

    enforce_webhooks = True

    def _admit(
        self,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
    ) -> None:
        if not self.enforce_webhooks or (rtype.group == "admissionregistration.k8s.io"):
            return  # webhooks never see webhook configurations
        for kind in _CONFIG_KINDS:
            config_type = self.registry.by_kind("admissionregistration.k8s.io/v1", kind)
            if config_type is None:
                continue
            for config in list(self._bucket(config_type).values()):
                for hook in config.get("webhooks") or []:
                    if self._applies(hook, rtype, operation, obj, old, subresource):
                        self._check_reachable(hook)

    def _applies(
        self,
        hook: dict[str, Any],
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
    ) -> bool:
        if hook.get("failurePolicy", "Fail") == "Ignore":
            return False
        if not any(rule_matches(r, rtype, operation, subresource) for r in hook.get("rules") or []):
            return False
        labels = [(o.get("metadata") or {}).get("labels") or {} for o in (obj, old) if o]
        if not any(label_selector_matches(hook.get("objectSelector"), lab) for lab in labels):
            return False
        return label_selector_matches(
            hook.get("namespaceSelector"), self._namespace_labels(rtype, obj)
        )

    def _namespace_labels(self, rtype: ResourceType, obj: Object) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        if rtype.kind == "Namespace" and not rtype.custom:
            return dict(meta.get("labels") or {})
        if not rtype.namespaced:
            return {}  # a namespaceSelector does not restrict cluster-scoped objects
        ns_type = self.registry.by_kind("v1", "Namespace")
        namespace = self._bucket(ns_type).get(("", meta.get("namespace", ""))) if ns_type else None
        return dict(((namespace or {}).get("metadata") or {}).get("labels") or {})

    def _check_reachable(self, hook: dict[str, Any]) -> None:
        service = (hook.get("clientConfig") or {}).get("service")
        if not isinstance(service, dict):
            return  # a URL webhook: nothing here to say it is down
        name, namespace = service.get("name", ""), service.get("namespace", "")
        path = service.get("path", "/")
        url = f"https://{name}.{namespace}.svc:{service.get('port', 443)}{path}?timeout={hook.get('timeoutSeconds', 10)}s"
        svc_type = self.registry.by_kind("v1", "Service")
        ep_type = self.registry.by_kind("v1", "Endpoints")
        if svc_type is None or ep_type is None:
            return
        if (namespace, name) not in self._bucket(svc_type):
            why = f'service "{name}" not found'
        else:
            endpoints = self._bucket(ep_type).get((namespace, name)) or {}
            if any(s.get("addresses") for s in endpoints.get("subsets") or []):
                return
            why = f'no endpoints available for service "{name}"'
        raise ApiError(
            500,
            "InternalError",
            f'Internal error occurred: failed calling webhook "{hook.get("name")}": '
            f'failed to call webhook: Post "{url}": {why}',
        )
