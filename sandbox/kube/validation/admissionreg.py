"""admissionregistration.k8s.io rules: Mutating and Validating webhook configurations."""

from __future__ import annotations

from typing import Any

from . import names
from .fielderrors import FieldError, as_dict, duplicate, invalid, not_supported, required

Obj = dict[str, Any]
_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
_SIDE_EFFECTS = ["None", "NoneOnDryRun"]
_REVIEW_VERSIONS = ("v1", "v1beta1")


def _client_config(config: Any, field: str) -> list[FieldError]:
    config = as_dict(config)
    url, service = config.get("url"), config.get("service")
    if bool(url) == bool(service):
        return [required(field, "exactly one of url or service is required")]
    errors: list[FieldError] = []
    if url and not str(url).startswith("https://"):
        errors.append(invalid(f"{field}.url", url, "'https' is the only allowed URL scheme"))
    if isinstance(service, dict):
        sfield = f"{field}.service"
        for key in ("name", "namespace"):
            if not service.get(key):
                errors.append(required(f"{sfield}.{key}", f"service {key} is required"))
        path = service.get("path")
        if path is not None and not str(path).startswith("/"):
            errors.append(invalid(f"{sfield}.path", path, "must start with a '/'"))
        if "port" in service:
            errors += [
                invalid(f"{sfield}.port", service["port"], m)
                for m in names.port_number(service["port"])
            ]
    return errors


def _rules(rules: Any, field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, rule in enumerate(rules or []):
        rule = as_dict(rule)
        rfield = f"{field}[{i}]"
        for key in ("operations", "apiGroups", "apiVersions", "resources"):
            if not rule.get(key):
                errors.append(required(f"{rfield}.{key}"))
        for j, operation in enumerate(rule.get("operations") or []):
            if operation not in _OPERATIONS:
                errors.append(not_supported(f"{rfield}.operations[{j}]", operation, _OPERATIONS))
        scope = rule.get("scope")
        if scope is not None and scope not in ("*", "Cluster", "Namespaced"):
            errors.append(not_supported(f"{rfield}.scope", scope, ["*", "Cluster", "Namespaced"]))
    return errors


def _webhooks(obj: Obj, *, mutating: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, hook in enumerate(obj.get("webhooks") or []):
        hook = as_dict(hook)
        field = f"webhooks[{i}]"
        name = hook.get("name") or ""
        if not name:
            errors.append(required(f"{field}.name"))
        elif names.dns1123_subdomain(name):
            errors.append(invalid(f"{field}.name", name, ",".join(names.dns1123_subdomain(name))))
        elif len(name.split(".")) < 3:
            errors.append(
                invalid(
                    f"{field}.name",
                    name,
                    "should be a domain with at least three segments separated by dots",
                )
            )
        if name in seen:
            errors.append(duplicate(f"{field}.name", name))
        seen.add(name)
        versions = hook.get("admissionReviewVersions") or []
        if not versions or not any(v in _REVIEW_VERSIONS for v in versions):
            errors.append(
                required(f"{field}.admissionReviewVersions", "must specify one of v1, v1beta1")
            )
        side_effects = hook.get("sideEffects")
        if side_effects is None:
            errors.append(not_supported(f"{field}.sideEffects", "", _SIDE_EFFECTS))
        elif side_effects not in _SIDE_EFFECTS:
            errors.append(not_supported(f"{field}.sideEffects", side_effects, _SIDE_EFFECTS))
        policy = hook.get("failurePolicy")
        if policy is not None and policy not in ("Fail", "Ignore"):
            errors.append(not_supported(f"{field}.failurePolicy", policy, ["Fail", "Ignore"]))
        match = hook.get("matchPolicy")
        if match is not None and match not in ("Equivalent", "Exact"):
            errors.append(not_supported(f"{field}.matchPolicy", match, ["Equivalent", "Exact"]))
        timeout = hook.get("timeoutSeconds")
        if timeout is not None and not (isinstance(timeout, int) and 1 <= timeout <= 30):
            errors.append(
                invalid(
                    f"{field}.timeoutSeconds",
                    timeout,
                    "the timeout value must be between 1 and 30 seconds",
                )
            )
        if mutating:
            policy = hook.get("reinvocationPolicy")
            if policy is not None and policy not in ("IfNeeded", "Never"):
                errors.append(
                    not_supported(f"{field}.reinvocationPolicy", policy, ["IfNeeded", "Never"])
                )
        errors += _client_config(hook.get("clientConfig"), f"{field}.clientConfig")
        errors += _rules(hook.get("rules"), f"{field}.rules")
    return errors


def mutating(obj: Obj, old: Obj | None) -> list[FieldError]:
    return _webhooks(obj, mutating=True)


def validating(obj: Obj, old: Obj | None) -> list[FieldError]:
    return _webhooks(obj, mutating=False)
