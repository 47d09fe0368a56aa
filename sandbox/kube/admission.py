"""Admission webhooks, called as a real API server calls them: mutating first, then validating.

For every write a configuration's webhook matches (``rules``, ``namespaceSelector``,
``objectSelector``), the stand-in sends an ``AdmissionReview`` over HTTPS to the webhook's Service
(see ``webhooks.py``), applies a mutating webhook's JSON patch before the next webhook sees the
object, and refuses the write when a webhook denies it, or cannot be called and its
``failurePolicy`` is ``Fail``. Webhook configurations themselves never go through webhooks.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from . import webhooks
from .errors import ApiError, bad_request
from .patching import json_patch
from .podnetwork import PodNetwork
from .resources import ResourceType
from .selectors import label_selector_matches
from .storebase import Object, StoreBase

log = logging.getLogger(__name__)

MUTATING = "MutatingWebhookConfiguration"
VALIDATING = "ValidatingWebhookConfiguration"
_NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")


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


def denial(name: str, status: dict[str, Any]) -> ApiError:
    """The error of a webhook's refusal: its code (400 by default), reason and message."""
    message = status.get("message")
    text = f'admission webhook "{name}" denied the request'
    text = f"{text}: {message}" if message else f"{text} without explanation"
    return ApiError(int(status.get("code") or 400), str(status.get("reason") or ""), text)


class AdmissionMixin(StoreBase):
    """Calls the admission webhooks that match each write, before it is stored."""

    enforce_webhooks = True

    @property
    def network(self) -> PodNetwork:
        """The pod network webhook servers of the sandbox register their listeners in."""
        found: PodNetwork | None = self.__dict__.get("_pod_network")
        if found is None:
            found = self.__dict__.setdefault("_pod_network", PodNetwork())
        return found

    def _mutate(
        self,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        *,
        dry_run: bool = False,
    ) -> None:
        """Mutating admission: each matching webhook's patch is applied to ``obj`` in place."""
        self._run_webhooks(MUTATING, rtype, operation, obj, old, subresource, dry_run)

    def _admit(
        self,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        *,
        dry_run: bool = False,
    ) -> None:
        """Validating admission (after the object's own validation)."""
        self._run_webhooks(VALIDATING, rtype, operation, obj, old, subresource, dry_run)

    def _run_webhooks(
        self,
        kind: str,
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        dry_run: bool,
    ) -> None:
        if not self.enforce_webhooks or rtype.group == "admissionregistration.k8s.io":
            return
        config_type = self.registry.by_kind("admissionregistration.k8s.io/v1", kind)
        if config_type is None:
            return
        configs = sorted(self._bucket(config_type).items())  # the real server orders by name
        for _, config in configs:
            for hook in config.get("webhooks") or []:
                if self._applies(hook, rtype, operation, obj, old, subresource):
                    self._call(kind, hook, rtype, operation, obj, old, subresource, dry_run)

    def _call(
        self,
        kind: str,
        hook: dict[str, Any],
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
        dry_run: bool,
    ) -> None:
        name = str(hook.get("name", ""))
        if dry_run and hook.get("sideEffects") not in _NO_SIDE_EFFECTS:
            raise bad_request(f'admission webhook "{name}" does not support dry run')
        version = webhooks.review_version(hook)
        review = {
            "apiVersion": f"admission.k8s.io/{version}",
            "kind": "AdmissionReview",
            "request": webhooks.review_request(
                uid=str(uuid.uuid4()),
                rtype=rtype,
                operation=operation,
                subresource=subresource,
                obj=None if operation == "DELETE" else self._output(rtype, obj),
                old=None if old is None else self._output(rtype, old),
                dry_run=dry_run,
            ),
        }
        try:
            target = webhooks.resolve(
                hook,
                service=self._service_of(hook),
                endpoints=self._service_of(hook, kind="Endpoints"),
                network=self.network,
            )
            verdict = webhooks.call(hook, target, review)
        except webhooks.CallFailed as failure:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                log.info('failed calling webhook "%s" (ignored): %s', name, failure.detail)
                return
            raise ApiError(
                500,
                "InternalError",
                f'Internal error occurred: failed calling webhook "{name}": {failure.detail}',
            ) from None
        if not verdict.allowed:
            raise denial(name, verdict.status)
        if kind == MUTATING and verdict.patch:
            try:
                patched = json_patch(obj, verdict.patch)
            except ApiError as error:
                raise ApiError(
                    500,
                    "InternalError",
                    f'Internal error occurred: failed calling webhook "{name}": '
                    f"JSONPatch failed: {error.message}",
                ) from None
            # In place, metadata included: the write goes on with references into ``obj``.
            meta = obj.setdefault("metadata", {})
            meta.clear()
            meta.update(patched.pop("metadata", None) or {})
            obj.clear()
            obj.update(patched)
            obj["metadata"] = meta

    def _service_of(self, hook: dict[str, Any], *, kind: str = "Service") -> Object | None:
        ref = (hook.get("clientConfig") or {}).get("service")
        rtype = self.registry.by_kind("v1", kind)
        if not isinstance(ref, dict) or rtype is None:
            return None
        return self._bucket(rtype).get((ref.get("namespace", ""), ref.get("name", "")))

    def _applies(
        self,
        hook: dict[str, Any],
        rtype: ResourceType,
        operation: str,
        obj: Object,
        old: Object | None,
        subresource: str,
    ) -> bool:
        if not any(rule_matches(r, rtype, operation, subresource) for r in hook.get("rules") or []):
            return False
        labels = [(o.get("metadata") or {}).get("labels") or {} for o in (obj, old) if o]
        if not any(label_selector_matches(hook.get("objectSelector"), lab) for lab in labels):
            return False
        if not rtype.namespaced and (rtype.kind != "Namespace" or rtype.custom):
            return True  # a namespaceSelector does not restrict cluster-scoped objects
        return label_selector_matches(
            hook.get("namespaceSelector"), self._namespace_labels(rtype, obj)
        )

    def _namespace_labels(self, rtype: ResourceType, obj: Object) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        if rtype.kind == "Namespace" and not rtype.custom:
            return dict(meta.get("labels") or {})
        ns_type = self.registry.by_kind("v1", "Namespace")
        namespace = self._bucket(ns_type).get(("", meta.get("namespace", ""))) if ns_type else None
        return dict(((namespace or {}).get("metadata") or {}).get("labels") or {})
